/**
 * A brute-force dense oracle of the chunked-attention kernel (`ChunkedAttentionParams` in
 * `backend.ts`; docs/attention-semantics.md §4–§6), its analytic backward, and random
 * configurations that exercise every rule: wrap-around windows with duplicates, causal masking by
 * position, self-exclusion (−1e5 overriding −1e9), padding masks, buckets, multi-round positions,
 * fully masked windows.
 */
import { attentionDropoutFactor } from '../attention-dropout.js';
import type { Rng } from './cases.js';
import type { ChunkedAttentionRules } from '../backend.js';

/** The −1e9 and −1e5 of backend.ts, restated here so that a change there is caught. */
export const ORACLE_MASKED_LOGIT = -1e9;
export const ORACLE_SELF_LOGIT = -1e5;

/** One attention problem: sizes, options and host values (all float32-representable). */
export interface AttentionProblem extends ChunkedAttentionRules {
  label: string;
  B: number;
  H: number;
  N: number;
  d: number;
  dv: number;
  /** int32 [B, H, N] original positions, or undefined (slot i has position i). */
  positions?: Int32Array | undefined;
  /** Length of the position range (keyMask's second axis): N without positions. */
  L: number;
  /** int32 [B, L] padding mask (0 = do not attend), or undefined. */
  keyMask?: Int32Array | undefined;
  /** int32 [B, H, N] bucket ids, or undefined. */
  buckets?: Int32Array | undefined;
  /** Dropout on the probabilities (query slot i is in round ⌊i / roundLength⌋), or undefined. */
  dropout?: { rate: number; seed: number; roundLength: number } | undefined;
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
}

/** How the oracle forms the logsumexp that normalises the weights. */
export type LseMode =
  /** float64, rounded to float32 (what the kernel must do, docs/attention-semantics.md §6). */
  | { kind: 'fround' }
  /** float64 plus a fixed per-query offset (the rounding at a base point, frozen: smooth, for finite differences). */
  | { kind: 'offset'; offset: Float64Array };

/** Key slots of query slot i's window, in order, duplicates kept (chunks taken modulo the chunk count). */
export function windowOf(p: AttentionProblem, i: number): number[] {
  const c = p.chunkLength;
  const nChunks = p.N / c;
  const n = Math.floor(i / c);
  const keys: number[] = [];
  for (let o = -p.chunksBefore; o <= p.chunksAfter; o++) {
    const m = (((n + o) % nChunks) + nChunks) % nChunks;
    for (let t = 0; t < c; t++) keys.push(m * c + t);
  }
  return keys;
}

interface Logit {
  value: number;
  replaced: boolean;
}

/**
 * The dropout factor z (1/(1 − rate) or 0) of query slot i on key slot j in head (b, h), evaluated
 * pair by pair from core's `attentionDropoutFactor` (1 without dropout).
 */
export function dropoutOf(p: AttentionProblem, b: number, h: number, i: number, j: number): number {
  if (!p.dropout) return 1;
  const bh = b * p.H + h;
  const posQ = p.positions ? p.positions[bh * p.N + i]! : i;
  const posK = p.positions ? p.positions[bh * p.N + j]! : j;
  const { rate, seed, roundLength } = p.dropout;
  return attentionDropoutFactor(rate, seed, b, h, Math.floor(i / roundLength), posQ, posK);
}

/** The logit of query slot i on key slot j in head (b, h), with the REPLACE rules of backend.ts. */
function logitOf(p: AttentionProblem, b: number, h: number, i: number, j: number): Logit {
  const bh = b * p.H + h;
  const qo = (bh * p.N + i) * p.d;
  const ko = (bh * p.N + j) * p.d;
  let dot = 0;
  for (let t = 0; t < p.d; t++) dot += p.q[qo + t]! * p.k[ko + t]!;
  const posQ = p.positions ? p.positions[bh * p.N + i]! : i;
  const posK = p.positions ? p.positions[bh * p.N + j]! : j;
  let allowed = true;
  if (p.causal && posK > posQ) allowed = false;
  if (p.keyMask && p.keyMask[b * p.L + posK] === 0) allowed = false;
  if (p.buckets && p.buckets[bh * p.N + j] !== p.buckets[bh * p.N + i]) allowed = false;
  let value = allowed ? p.scale * dot : ORACLE_MASKED_LOGIT;
  let replaced = !allowed;
  if (p.excludeSelf && posK === posQ) {
    value = ORACLE_SELF_LOGIT;
    replaced = true;
  }
  return { value, replaced };
}

/** Result of the oracle: out [B, H, N, dv], lse [B, H, N] (as used), lse in float64 before rounding. */
export interface AttentionOutput {
  out: Float64Array;
  lse: Float64Array;
  lseExact: Float64Array;
  /** Σ p·|v| per output element: the magnitude float32 rounding errors are relative to. */
  outScale: Float64Array;
}

/** Dense brute-force forward. */
export function attentionRef(p: AttentionProblem, mode: LseMode = { kind: 'fround' }): AttentionOutput {
  const { B, H, N, dv } = p;
  const out = new Float64Array(B * H * N * dv);
  const outScale = new Float64Array(B * H * N * dv);
  const lse = new Float64Array(B * H * N);
  const lseExact = new Float64Array(B * H * N);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      for (let i = 0; i < N; i++) {
        const keys = windowOf(p, i);
        const s = keys.map((j) => logitOf(p, b, h, i, j).value);
        let mx = -Infinity;
        for (const x of s) mx = Math.max(mx, x);
        let sum = 0;
        for (const x of s) sum += Math.exp(x - mx);
        const exact = mx + Math.log(sum);
        const q = bh * N + i;
        lseExact[q] = exact;
        const used = mode.kind === 'fround' ? Math.fround(exact) : exact + mode.offset[q]!;
        lse[q] = used;
        keys.forEach((j, w) => {
          const pw = Math.exp(s[w]! - used) * dropoutOf(p, b, h, i, j);
          for (let t = 0; t < dv; t++) {
            const vv = p.v[(bh * N + j) * dv + t]!;
            out[q * dv + t] = out[q * dv + t]! + pw * vv;
            outScale[q * dv + t] = outScale[q * dv + t]! + pw * Math.abs(vv);
          }
        });
      }
    }
  }
  return { out, lse, lseExact, outScale };
}

/** Gradients of the oracle, with the magnitudes their float32 rounding errors are relative to. */
export interface AttentionGrads {
  dq: Float64Array;
  dk: Float64Array;
  dv: Float64Array;
  dqScale: Float64Array;
  dkScale: Float64Array;
  dvScale: Float64Array;
}

/**
 * Analytic backward, written from the formulas: with p = exp(s − lse) (lse as used by the forward,
 * rounding treated as the identity), D = dOut·out,
 * ds = p·(z·dOut·v − D + dLse) on logits that were not replaced (0 on replaced ones),
 * dq_i += ds·scale·k_j, dk_j += ds·scale·q_i, dv_j += p·z·dOut_i (every window entry, duplicates too),
 * with z the dropout factor (1 without dropout).
 */
export function attentionBackwardRef(
  p: AttentionProblem,
  dOut: Float64Array,
  dLse: Float64Array,
  mode: LseMode = { kind: 'fround' },
): AttentionGrads {
  const { B, H, N, d, dv } = p;
  const fwd = attentionRef(p, mode);
  const dq = new Float64Array(p.q.length);
  const dk = new Float64Array(p.k.length);
  const dV = new Float64Array(p.v.length);
  const dqScale = new Float64Array(p.q.length);
  const dkScale = new Float64Array(p.k.length);
  const dvScale = new Float64Array(p.v.length);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      for (let i = 0; i < N; i++) {
        const qi = bh * N + i;
        let D = 0;
        let Dabs = 0;
        for (let t = 0; t < dv; t++) {
          D += dOut[qi * dv + t]! * fwd.out[qi * dv + t]!;
          Dabs += Math.abs(dOut[qi * dv + t]!) * fwd.outScale[qi * dv + t]!;
        }
        for (const j of windowOf(p, i)) {
          const kj = bh * N + j;
          const lg = logitOf(p, b, h, i, j);
          const pw = Math.exp(lg.value - fwd.lse[qi]!);
          const z = dropoutOf(p, b, h, i, j);
          let dOutV = 0;
          let dOutVabs = 0;
          for (let t = 0; t < dv; t++) {
            dV[kj * dv + t] = dV[kj * dv + t]! + pw * z * dOut[qi * dv + t]!;
            dvScale[kj * dv + t] = dvScale[kj * dv + t]! + pw * z * Math.abs(dOut[qi * dv + t]!);
            dOutV += z * dOut[qi * dv + t]! * p.v[kj * dv + t]!;
            dOutVabs += z * Math.abs(dOut[qi * dv + t]! * p.v[kj * dv + t]!);
          }
          if (lg.replaced) continue;
          const ds = pw * (dOutV - D + dLse[qi]!);
          // The float32 error of ds is relative to its terms, and that of p to |s| + |lse|.
          const dsAbs = pw * (dOutVabs + Dabs + Math.abs(dLse[qi]!)) * (1 + Math.abs(lg.value) + Math.abs(fwd.lse[qi]!));
          for (let t = 0; t < d; t++) {
            dq[qi * d + t] = dq[qi * d + t]! + ds * p.scale * p.k[kj * d + t]!;
            dk[kj * d + t] = dk[kj * d + t]! + ds * p.scale * p.q[qi * d + t]!;
            dqScale[qi * d + t] = dqScale[qi * d + t]! + dsAbs * Math.abs(p.scale * p.k[kj * d + t]!);
            dkScale[kj * d + t] = dkScale[kj * d + t]! + dsAbs * Math.abs(p.scale * p.q[qi * d + t]!);
          }
        }
      }
    }
  }
  return { dq, dk, dv: dV, dqScale, dkScale, dvScale };
}

function normals(rng: Rng, n: number, std = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.fround(std * rng.normal());
  return a;
}

/** Options to build a problem; unspecified fields are drawn at random. */
export interface ProblemSpec {
  label?: string;
  B?: number;
  H?: number;
  d?: number;
  dv?: number;
  chunkLength?: number;
  nChunks?: number;
  chunksBefore?: number;
  chunksAfter?: number;
  causal?: boolean;
  excludeSelf?: boolean;
  scale?: number;
  /** 0: no positions; r >= 1: positions = (random permutation of 0..N-1) mod (N / r). */
  rounds?: number;
  /** 'none', 'random' (some zeros), or 'allZeroFirstBatch' (batch 0 attends to nothing). */
  keyMask?: 'none' | 'random' | 'allZeroFirstBatch';
  /** Number of buckets (0: no buckets). */
  buckets?: number;
  /** Dropout rate on the probabilities (default none); its seed is drawn, one round per `rounds`. */
  dropout?: number;
}

/** Draws a problem (N <= 64, d <= 16 unless asked otherwise). */
export function makeProblem(rng: Rng, spec: ProblemSpec = {}): AttentionProblem {
  const B = spec.B ?? rng.int(1, 2);
  const H = spec.H ?? rng.int(1, 2);
  const d = spec.d ?? rng.pick([1, 3, 4, 8, 16]);
  const dv = spec.dv ?? rng.pick([d, 2, 5]);
  const chunkLength = spec.chunkLength ?? rng.pick([1, 2, 3, 4, 8]);
  const maxChunks = Math.max(1, Math.min(6, Math.floor(64 / chunkLength)));
  const nChunks = spec.nChunks ?? rng.int(1, maxChunks);
  const N = chunkLength * nChunks;
  const chunksBefore = spec.chunksBefore ?? rng.int(0, 2);
  const chunksAfter = spec.chunksAfter ?? rng.int(0, 2);
  const causal = spec.causal ?? rng.chance(0.5);
  const excludeSelf = spec.excludeSelf ?? rng.chance(0.5);
  const scale = spec.scale ?? rng.pick([1, Math.fround(1 / Math.sqrt(d)), 0.37]);
  let rounds = spec.rounds ?? rng.pick([0, 0, 1, 2]);
  if (rounds > 0 && N % rounds !== 0) rounds = 1;
  const L = rounds > 0 ? N / rounds : N;
  let positions: Int32Array | undefined;
  if (rounds > 0) {
    positions = new Int32Array(B * H * N);
    for (let bh = 0; bh < B * H; bh++) {
      const perm = rng.perm(N);
      for (let i = 0; i < N; i++) positions[bh * N + i] = perm[i]! % L;
    }
  }
  const maskKind = spec.keyMask ?? rng.pick(['none', 'none', 'random'] as const);
  let keyMask: Int32Array | undefined;
  if (maskKind !== 'none') {
    keyMask = new Int32Array(B * L);
    for (let i = 0; i < B * L; i++) keyMask[i] = rng.chance(0.7) ? 1 : 0;
    if (maskKind === 'allZeroFirstBatch') keyMask.fill(0, 0, L);
  }
  const nb = spec.buckets ?? rng.pick([0, 0, 0, 2, 3]);
  let buckets: Int32Array | undefined;
  if (nb > 0) {
    buckets = new Int32Array(B * H * N);
    for (let i = 0; i < buckets.length; i++) buckets[i] = rng.int(0, nb - 1);
  }
  const dropout =
    spec.dropout === undefined ? undefined : { rate: spec.dropout, seed: rng.int(0, 2 ** 30) * 4099 + 7, roundLength: rounds > 0 ? L : N };
  const label =
    spec.label ??
    `B${B} H${H} N${N} d${d} dv${dv} c${chunkLength} before${chunksBefore} after${chunksAfter}` +
      `${causal ? ' causal' : ''}${excludeSelf ? ' excludeSelf' : ''} scale${scale.toPrecision(3)}` +
      `${rounds > 0 ? ` positions(${rounds} rounds)` : ''}${keyMask ? ` keyMask(${maskKind})` : ''}${buckets ? ` buckets(${nb})` : ''}`;
  return {
    label,
    B,
    H,
    N,
    d,
    dv,
    chunkLength,
    chunksBefore,
    chunksAfter,
    causal,
    excludeSelf,
    scale,
    positions,
    L,
    keyMask,
    buckets,
    dropout,
    q: normals(rng, B * H * N * d),
    k: normals(rng, B * H * N * d),
    v: normals(rng, B * H * N * dv),
  };
}

/** The fixed problems every backend must get right, plus `randomCount` random ones. */
export function attentionProblems(rng: Rng, randomCount: number): AttentionProblem[] {
  const named: ProblemSpec[] = [
    {
      label: 'single chunk, window of 4 copies (before 2, after 1)',
      nChunks: 1,
      chunkLength: 8,
      chunksBefore: 2,
      chunksAfter: 1,
      rounds: 0,
      keyMask: 'none',
      buckets: 0,
    },
    {
      label: 'two chunks, window of 5 (duplicates, wrap-around)',
      nChunks: 2,
      chunkLength: 4,
      chunksBefore: 2,
      chunksAfter: 2,
      rounds: 0,
      keyMask: 'none',
      buckets: 0,
      causal: false,
      excludeSelf: false,
    },
    {
      label: 'local causal, before 1 after 1 (wrapped later chunk masked)',
      nChunks: 4,
      chunkLength: 4,
      chunksBefore: 1,
      chunksAfter: 1,
      causal: true,
      excludeSelf: false,
      rounds: 0,
      keyMask: 'none',
      buckets: 0,
    },
    {
      label: 'LSH-like: causal, excludeSelf, 2 rounds of positions',
      B: 2,
      H: 2,
      nChunks: 4,
      chunkLength: 8,
      chunksBefore: 1,
      chunksAfter: 0,
      causal: true,
      excludeSelf: true,
      rounds: 2,
      keyMask: 'none',
      buckets: 0,
      scale: 1,
    },
    {
      label: 'whole window masked (keyMask all 0 in batch 0)',
      B: 2,
      nChunks: 3,
      chunkLength: 4,
      causal: false,
      excludeSelf: false,
      rounds: 0,
      keyMask: 'allZeroFirstBatch',
      buckets: 0,
    },
    {
      label: 'whole window masked but self (excludeSelf, keyMask all 0 in batch 0)',
      B: 2,
      nChunks: 3,
      chunkLength: 4,
      causal: false,
      excludeSelf: true,
      rounds: 1,
      keyMask: 'allZeroFirstBatch',
      buckets: 0,
    },
    {
      label: 'causal + excludeSelf: early queries see only themselves',
      nChunks: 4,
      chunkLength: 2,
      chunksBefore: 0,
      chunksAfter: 0,
      causal: true,
      excludeSelf: true,
      rounds: 0,
      keyMask: 'none',
      buckets: 0,
    },
    { label: 'chunkLength 1, before 2, after 2', nChunks: 6, chunkLength: 1, chunksBefore: 2, chunksAfter: 2, rounds: 0, buckets: 0 },
    { label: 'buckets + keyMask + positions', B: 2, H: 2, nChunks: 4, chunkLength: 4, rounds: 2, keyMask: 'random', buckets: 2 },
    { label: 'd = 1, dv = 16', d: 1, dv: 16, nChunks: 3, chunkLength: 3 },
    { label: 'N = 64, d = 16', B: 1, H: 1, d: 16, dv: 16, nChunks: 8, chunkLength: 8 },
  ];
  const problems = named.map((spec) => makeProblem(rng, spec));
  for (let i = 0; i < randomCount; i++) problems.push(makeProblem(rng));
  // Dropout on the probabilities (drawn last, so the problems above do not depend on these).
  const dropped: ProblemSpec[] = [
    {
      label: 'dropout 0.3: LSH-like, causal, excludeSelf, 2 rounds, keyMask',
      B: 2,
      H: 2,
      nChunks: 4,
      chunkLength: 4,
      chunksBefore: 1,
      chunksAfter: 0,
      causal: true,
      excludeSelf: true,
      rounds: 2,
      keyMask: 'random',
      buckets: 0,
      scale: 1,
      dropout: 0.3,
    },
    {
      label: 'dropout 0.5: window with duplicates (before 2, after 1), one chunk',
      nChunks: 1,
      chunkLength: 8,
      chunksBefore: 2,
      chunksAfter: 1,
      rounds: 0,
      keyMask: 'none',
      buckets: 0,
      dropout: 0.5,
    },
    {
      label: 'dropout 0.1: local, before 1 after 1, buckets, d = 16',
      B: 2,
      H: 2,
      d: 16,
      dv: 16,
      nChunks: 3,
      chunkLength: 8,
      chunksBefore: 1,
      chunksAfter: 1,
      rounds: 0,
      buckets: 2,
      dropout: 0.1,
    },
    {
      label: 'dropout 0.9: whole window masked but self (batch 0)',
      B: 2,
      nChunks: 3,
      chunkLength: 4,
      causal: false,
      excludeSelf: true,
      rounds: 1,
      keyMask: 'allZeroFirstBatch',
      buckets: 0,
      dropout: 0.9,
    },
  ];
  for (const spec of dropped) problems.push(makeProblem(rng, spec));
  return problems;
}
