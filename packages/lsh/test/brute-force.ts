/**
 * Plain brute-force references in float64 for the tests: LSH attention written straight from the
 * Hugging Face semantics of docs/attention-semantics.md §4 and §6, per batch and head,
 * with loops over host arrays; dense attention with an arbitrary "allowed" rule; local attention with
 * explicit windows; central finite differences. Independent of the library code (no tensors, no ops).
 *
 * Float32 rounding (docs/attention-semantics.md §6): every logsumexp result is rounded with
 * `Math.fround`. For gradients by finite differences the rounding is frozen: the first (base point) run records `fround(x) − x` for
 * every logsumexp and later runs add the recorded offsets instead of rounding, so the function is
 * smooth and its derivative is the one autograd over float32 ops computes (rounding treated as the
 * identity in the backward pass). The buckets are frozen the same way (hashing has no gradient).
 *
 * Attention-probability dropout: the one thing taken from the library is the definition of the mask,
 * core's `attentionDropoutFactor` (a pure hash of seed, batch, head, round, query and key position),
 * evaluated here pair by pair for every window entry.
 */
import { attentionDropoutFactor } from '@reformer/core';

export const SELF = -1e5;
export const MASKED = -1e9;

// ---------------------------------------------------------------------------------------------
// Random numbers (deterministic, float32-representable)
// ---------------------------------------------------------------------------------------------

/** A small seeded generator (mulberry32) with uniform, integer, normal and choice draws. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.uniform() * (hi - lo + 1));
  }
  bool(p = 0.5): boolean {
    return this.uniform() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.uniform() * xs.length)]!;
  }
  normal(): number {
    const u1 = this.uniform() || 1e-12;
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  /** `n` normal values times `scale`, rounded to float32 (so float32 tensors hold them exactly). */
  normals(n: number, scale = 1): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.fround(scale * this.normal());
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

function logSumExp(xs: readonly number[]): number {
  let m = -Infinity;
  for (const x of xs) m = Math.max(m, x);
  let s = 0;
  for (const x of xs) s += Math.exp(x - m);
  return m + Math.log(s);
}

/** Rounds like float32 and records the offset, or replays a recorded offset. */
class Rounder {
  readonly shifts: number[];
  private i = 0;
  constructor(private readonly frozen: readonly number[] | undefined) {
    this.shifts = frozen ? [...frozen] : [];
  }
  round(x: number): number {
    if (this.frozen) return x + this.frozen[this.i++]!;
    const r = Math.fround(x);
    this.shifts.push(r - x);
    return r;
  }
}

/** Softmax-style attention of one query over a list of (logit, value row) pairs. */
function attendRow(
  logits: readonly number[],
  values: readonly (readonly number[])[],
  dv: number,
  rounder: Rounder,
  dropFactors?: readonly number[],
): { out: number[]; lse: number } {
  const lse = rounder.round(logSumExp(logits));
  const out = new Array<number>(dv).fill(0);
  logits.forEach((s, j) => {
    // Hugging Face's order: softmax, then dropout of the probability, then · v.
    const p = Math.exp(s - lse) * (dropFactors ? dropFactors[j]! : 1);
    const row = values[j]!;
    for (let e = 0; e < dv; e++) out[e]! += p * row[e]!;
  });
  return { out, lse };
}

// ---------------------------------------------------------------------------------------------
// LSH reference
// ---------------------------------------------------------------------------------------------

/** One LSH problem on the host (all float arrays row-major, float64). */
export interface RefLSHProblem {
  B: number;
  H: number;
  L: number;
  d: number;
  dv: number;
  /** [B, H, L, d] */
  qk: Float64Array;
  /** [B, H, L, dv] */
  v: Float64Array;
  /** [H, d, nHashes, Σ factors/2], Hugging Face's single rotations tensor. */
  rotations: Float64Array;
  factors: number[];
  nHashes: number;
  chunkLength: number;
  chunksBefore: number;
  chunksAfter: number;
  causal: boolean;
  /** int [B, L], 1 = real token. */
  mask?: Int32Array | undefined;
  sameBucketOnly?: boolean | undefined;
  dedupe?: boolean | undefined;
  /** Attention-probability dropout: each (round, query position, key position) factor from core's hash. */
  dropout?: { rate: number; seed: number } | undefined;
}

/** What a base-point run records so that later runs are smooth (see the module comment). */
export interface RefFrozen {
  /** Buckets within each round, per (b, h): [nHashes][Lp]. */
  within: number[][][];
  /** Recorded float32 rounding offsets, in evaluation order. */
  shifts: number[];
}

export interface RefLSHResult {
  /** [B, H, L, dv] */
  out: Float64Array;
  /** [B, H, nHashes, L], with the round offsets of the returned convention. */
  buckets: Int32Array;
  /** [B, H, nHashes, L] per-round logsumexps (rounded); [B, H, 1, L] on the no-hash path. */
  lse: Float64Array;
  /** [B, H, nHashes·L]: sorted slot j holds round ⌊s/L⌋, position s mod L (real slots only). */
  sortIndices: Int32Array;
  frozen: RefFrozen;
}

/**
 * LSH attention by brute force, following the Hugging Face semantics list step by step, plus the
 * options of this library (padding to a multiple of the chunk with an extra padding bucket,
 * sameBucketOnly, the dedupe correction).
 */
export function referenceLSH(p: RefLSHProblem, frozen?: RefFrozen): RefLSHResult {
  const { B, H, L, d, dv, nHashes: nR, chunkLength: c, factors } = p;
  const nb = factors.reduce((a, f) => a * f, 1);
  const rotSize = factors.reduce((a, f) => a + f / 2, 0);
  const noHash = L <= c;
  const Lp = noHash ? L : Math.ceil(L / c) * c;
  const rounder = new Rounder(frozen?.shifts);
  const within: number[][][] = [];
  const out = new Float64Array(B * H * L * dv);
  const buckets = new Int32Array(B * H * nR * L);
  const lseOut = new Float64Array(B * H * (noHash ? 1 : nR) * L);
  const sortIndices = new Int32Array(B * H * (noHash ? L : nR * L));
  // Hugging Face's _hash_vectors: a padding bucket (and round stride nb + 1) only when the mask has a 0.
  const returnStride = p.mask && p.mask.some((m) => m === 0) ? nb + 1 : nb;
  const drop = (b: number, h: number, r: number, i: number, j: number): number =>
    p.dropout ? attentionDropoutFactor(p.dropout.rate, p.dropout.seed, b, h, r, i, j) : 1;

  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      const real = (t: number) => t < L && (!p.mask || p.mask[b * L + t] !== 0);
      const q = (t: number): number[] => {
        const row = new Array<number>(d).fill(0);
        if (t < L) for (let e = 0; e < d; e++) row[e] = p.qk[(bh * L + t) * d + e]!;
        return row;
      };
      const val = (t: number): number[] => {
        const row = new Array<number>(dv).fill(0);
        if (t < L) for (let e = 0; e < dv; e++) row[e] = p.v[(bh * L + t) * dv + e]!;
        return row;
      };
      // Keys: RMS-normalised, divided by √d.
      const key = (t: number): number[] => {
        const x = q(t);
        const ms = x.reduce((s, e) => s + e * e, 0) / d;
        return x.map((e) => e / Math.sqrt(ms + 1e-6) / Math.sqrt(d));
      };
      const dot = (a: number[], k: number[]) => a.reduce((s, e, i) => s + e * k[i]!, 0);

      if (noHash) {
        // Plain attention over every position, self mask, causal and padding masks.
        for (let i = 0; i < L; i++) {
          const logits: number[] = [];
          const values: number[][] = [];
          const factorsOfRow: number[] = [];
          for (let j = 0; j < L; j++) {
            factorsOfRow.push(drop(b, h, 0, i, j));
            let s: number;
            if (j === i) s = SELF;
            else if ((p.causal && j > i) || !real(j)) s = MASKED;
            else s = dot(q(i), key(j));
            logits.push(s);
            values.push(val(j));
          }
          const r = attendRow(logits, values, dv, rounder, factorsOfRow);
          out.set(r.out, (bh * L + i) * dv);
          lseOut[bh * L + i] = r.lse;
          sortIndices[bh * L + i] = i;
        }
        continue;
      }

      // 1. Hash every round (padding and masked positions: the extra bucket nb).
      let w: number[][];
      if (frozen) {
        w = frozen.within[bh]!;
      } else {
        w = [];
        for (let r = 0; r < nR; r++) {
          const row: number[] = [];
          for (let t = 0; t < Lp; t++) {
            if (!real(t)) {
              row.push(nb);
              continue;
            }
            const x = q(t);
            let bucket = 0;
            let radix = 1;
            let col = 0;
            for (const f of factors) {
              const rot: number[] = [];
              for (let i = 0; i < f / 2; i++) {
                let s = 0;
                for (let e = 0; e < d; e++) s += x[e]! * p.rotations[((h * d + e) * nR + r) * rotSize + col + i]!;
                rot.push(s);
              }
              const both = [...rot, ...rot.map((z) => -z)];
              let arg = 0;
              for (let i = 1; i < both.length; i++) if (both[i]! > both[arg]!) arg = i;
              bucket += radix * arg;
              radix *= f;
              col += f / 2;
            }
            row.push(bucket);
          }
          w.push(row);
        }
      }
      within.push(w);
      for (let r = 0; r < nR; r++) for (let t = 0; t < L; t++) buckets[(bh * nR + r) * L + t] = w[r]![t]! + r * returnStride;

      // 2. Sort each round by (bucket, position).
      const N = nR * Lp;
      const slotPos: number[] = [];
      const slotBucket: number[] = [];
      const slotOf: number[][] = [];
      for (let r = 0; r < nR; r++) {
        const ts = Array.from({ length: Lp }, (_, t) => t);
        ts.sort((x, y) => w[r]![x]! - w[r]![y]! || x - y);
        slotOf.push(new Array<number>(Lp));
        ts.forEach((t, j) => {
          slotPos.push(t);
          slotBucket.push(r * (nb + 1) + w[r]![t]!);
          slotOf[r]![t] = r * Lp + j;
          if (t < L) sortIndices[bh * nR * L + r * L + j] = r * L + t;
        });
      }

      // 3. Windows: chunk n and its neighbours, circularly.
      const nC = N / c;
      const windowOf = (s: number): number[] => {
        const n = Math.floor(s / c);
        const keys: number[] = [];
        for (let o = -p.chunksBefore; o <= p.chunksAfter; o++) {
          const m = (((n + o) % nC) + nC) % nC;
          for (let u = 0; u < c; u++) keys.push(m * c + u);
        }
        return keys;
      };
      const sameBucketOk = (s: number, k: number) => !p.sameBucketOnly || slotBucket[s] === slotBucket[k];
      // Dedupe: how often position j occurs (same-bucket if required) in the windows of position i.
      const counts = new Map<number, number>();
      if (p.dedupe) {
        for (let s = 0; s < N; s++) {
          for (const k of windowOf(s)) {
            if (!sameBucketOk(s, k)) continue;
            const id = slotPos[s]! * Lp + slotPos[k]!;
            counts.set(id, (counts.get(id) ?? 0) + 1);
          }
        }
      }

      // 4. Attention of every sorted slot over its window.
      const outS: number[][] = [];
      const lseS: number[] = [];
      for (let s = 0; s < N; s++) {
        const pq = slotPos[s]!;
        const logits: number[] = [];
        const values: number[][] = [];
        const factorsOfRow: number[] = [];
        for (const k of windowOf(s)) {
          const pk = slotPos[k]!;
          factorsOfRow.push(drop(b, h, Math.floor(s / Lp), pq, pk));
          let z: number;
          if (pk === pq) z = SELF;
          else if ((p.causal && pk > pq) || !real(pk) || !sameBucketOk(s, k)) z = MASKED;
          else {
            z = dot(q(pq), key(pk));
            if (p.dedupe) z -= Math.log(counts.get(pq * Lp + pk)!);
          }
          logits.push(z);
          values.push(val(pk));
        }
        const r = attendRow(logits, values, dv, rounder, factorsOfRow);
        outS.push(r.out);
        lseS.push(r.lse);
      }

      // 5. Unsort, combine rounds with softmax weights of their logsumexps.
      for (let t = 0; t < L; t++) {
        const lses = slotOf.map((row) => lseS[row[t]!]!);
        lses.forEach((x, r) => (lseOut[(bh * nR + r) * L + t] = x));
        const o = new Array<number>(dv).fill(0);
        if (nR === 1) {
          o.splice(0, dv, ...outS[slotOf[0]![t]!]!);
        } else {
          const total = rounder.round(logSumExp(lses));
          for (let r = 0; r < nR; r++) {
            const wr = Math.exp(lses[r]! - total);
            const row = outS[slotOf[r]![t]!]!;
            for (let e = 0; e < dv; e++) o[e]! += wr * row[e]!;
          }
        }
        out.set(o, (bh * L + t) * dv);
      }
    }
  }
  return { out, buckets, lse: lseOut, sortIndices, frozen: { within, shifts: rounder.shifts } };
}

// ---------------------------------------------------------------------------------------------
// Dense and local references
// ---------------------------------------------------------------------------------------------

/** Separate q, k, v on the host. */
export interface RefQKV {
  B: number;
  H: number;
  L: number;
  d: number;
  dv: number;
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
}

/**
 * Dense attention: query i attends to every j with logit `scale · q_i·k_j`, replaced by −1e9 where
 * `allowed(b, i, j)` is false, and by −1e5 at j = i when `selfValue` is set. Output [B, H, L, dv].
 */
export function referenceDense(
  p: RefQKV,
  o: { scale: number; allowed: (b: number, i: number, j: number) => boolean; excludeSelf?: boolean },
  shifts?: readonly number[],
): { out: Float64Array; shifts: number[] } {
  const { B, H, L, d, dv } = p;
  const rounder = new Rounder(shifts);
  const out = new Float64Array(B * H * L * dv);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      const row = (a: Float64Array, t: number, n: number) => Array.from(a.subarray((bh * L + t) * n, (bh * L + t + 1) * n));
      const keys = Array.from({ length: L }, (_, j) => row(p.k, j, d));
      const values = Array.from({ length: L }, (_, j) => row(p.v, j, dv));
      for (let i = 0; i < L; i++) {
        const qi = row(p.q, i, d);
        const logits: number[] = [];
        for (let j = 0; j < L; j++) {
          let s: number;
          if (o.excludeSelf && i === j) s = SELF;
          else if (!o.allowed(b, i, j)) s = MASKED;
          else s = o.scale * qi.reduce((acc, e, x) => acc + e * keys[j]![x]!, 0);
          logits.push(s);
        }
        out.set(attendRow(logits, values, dv, rounder).out, (bh * L + i) * dv);
      }
    }
  }
  return { out, shifts: rounder.shifts };
}

/**
 * Local attention as Hugging Face's LocalSelfAttention: keys divided by √d, chunks of c positions
 * (after padding to a multiple of c), window = chunks n−before … n+after mod nChunks (duplicates kept),
 * −1e9 where causal forbids or the key is padding; L ≤ c: plain attention over all positions.
 */
export function referenceLocal(
  p: RefQKV,
  o: { chunkLength: number; chunksBefore: number; chunksAfter: number; causal: boolean; mask?: Int32Array | undefined },
  shifts?: readonly number[],
): { out: Float64Array; shifts: number[] } {
  const { B, H, L, d, dv } = p;
  const c = o.chunkLength;
  const rounder = new Rounder(shifts);
  const out = new Float64Array(B * H * L * dv);
  const Lp = L <= c ? L : Math.ceil(L / c) * c;
  const nC = L <= c ? 1 : Lp / c;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      const row = (a: Float64Array, t: number, n: number) =>
        t < L ? Array.from(a.subarray((bh * L + t) * n, (bh * L + t + 1) * n)) : new Array<number>(n).fill(0);
      const real = (t: number) => t < L && (!o.mask || o.mask[b * L + t] !== 0);
      for (let i = 0; i < L; i++) {
        const keys: number[] = [];
        if (L <= c) for (let j = 0; j < L; j++) keys.push(j);
        else {
          const n = Math.floor(i / c);
          for (let off = -o.chunksBefore; off <= o.chunksAfter; off++) {
            const m = (((n + off) % nC) + nC) % nC;
            for (let u = 0; u < c; u++) keys.push(m * c + u);
          }
        }
        const qi = row(p.q, i, d);
        const logits = keys.map((j) => {
          if ((o.causal && j > i) || !real(j)) return MASKED;
          const kj = row(p.k, j, d);
          return qi.reduce((acc, e, x) => acc + (e * kj[x]!) / Math.sqrt(d), 0);
        });
        out.set(
          attendRow(
            logits,
            keys.map((j) => row(p.v, j, dv)),
            dv,
            rounder,
          ).out,
          (bh * L + i) * dv,
        );
      }
    }
  }
  return { out, shifts: rounder.shifts };
}

// ---------------------------------------------------------------------------------------------
// Finite differences and comparisons
// ---------------------------------------------------------------------------------------------

/** Central finite differences of a scalar function of several float64 arrays (modified in place). */
export function finiteDifferences(f: () => number, inputs: readonly Float64Array[], eps = 1e-5): Float64Array[] {
  return inputs.map((x) => {
    const g = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const x0 = x[i]!;
      x[i] = x0 + eps;
      const up = f();
      x[i] = x0 - eps;
      const down = f();
      x[i] = x0;
      g[i] = (up - down) / (2 * eps);
    }
    return g;
  });
}

/** Σ w·x */
export function weightedSum(x: ArrayLike<number>, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * w[i]!;
  return s;
}

/** Worst `|got − want| − (atol + rtol·|want|)` and the worst absolute error, with its index. */
export function compare(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  atol: number,
  rtol: number,
): { excess: number; maxAbs: number; at: number } {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  let excess = -Infinity;
  let maxAbs = 0;
  let at = -1;
  for (let i = 0; i < got.length; i++) {
    const e = Math.abs(got[i]! - want[i]!);
    if (!(e <= maxAbs)) {
      maxAbs = e;
      at = i;
    }
    excess = Math.max(excess, Number.isNaN(e) ? Infinity : e - (atol + rtol * Math.abs(want[i]!)));
  }
  return { excess, maxAbs, at };
}
