/**
 * The host-side terms of the band attention strategy, with the CPU reference's arithmetic (doubles):
 * the slot metadata read once per call, the masked logits of each query chunk over its window, the
 * softmax with its float32 lse (forward), and `p` and `ds` (backward), over the in-band keys only.
 */
import { MASKED_LOGIT, SELF_LOGIT } from '@reformer/core';
import { DropoutPlan } from './attention-dropout.js';
import { i32 } from './attention-host-io.js';
import type { AttentionInputs, Band, Plan } from './attention-plan.js';

/** Host copies of one call's inputs (read once with `dataSync`; cpu and wasm keep tensors in host memory). */
export interface HostInputs {
  /** Position of every slot (index within its row when no positions are given). */
  pos: Int32Array;
  keyBad?: Uint8Array | undefined;
  bucket?: Int32Array | undefined;
  /** Attention-probability dropout, when the call has it. */
  dropout?: DropoutPlan | undefined;
}

/** The positions, padded keys (keyMask 0 at the slot's position) and buckets of every slot, on the host. */
export function hostInputs(pl: Plan, x: AttentionInputs): HostInputs {
  const S = pl.BH * pl.N;
  let pos: Int32Array;
  if (x.positions !== undefined) pos = i32(x.positions);
  else {
    pos = new Int32Array(S);
    for (let i = 0; i < S; i++) pos[i] = i % pl.N;
  }
  const h: HostInputs = { pos };
  if (x.keyMask !== undefined) {
    const km = i32(x.keyMask);
    const L = x.keyMask.shape[x.keyMask.shape.length - 1]!;
    const perB = x.keyMask.shape.length >= 2 && x.keyMask.shape[0]! > 1;
    const bad = new Uint8Array(S);
    for (let i = 0; i < S; i++) {
      const b = Math.floor(i / (x.H * pl.N));
      bad[i] = km[(perB ? b * L : 0) + pos[i]!] === 0 ? 1 : 0;
    }
    h.keyBad = bad;
  }
  if (x.buckets !== undefined) h.bucket = i32(x.buckets);
  h.dropout = DropoutPlan.of(pl.dropoutSpec, x, pos);
  return h;
}

// exp(x) for the host softmax: x = (64k + j)·ln2/64 + r with |r| ≤ ln2/128 (k·64 + j rounded by the
// 1.5·2⁵² trick), e^r by its degree-4 Taylor polynomial: relative error < 4e-14, far below float32
// resolution, and faster than Math.exp in V8 (the softmax's exps are its largest host cost; the
// measured gain is in docs/results/backend-tfjs.md, "How chunkedAttention runs on wasm").
const EXP_T = new Float64Array(64);
for (let j = 0; j < 64; j++) EXP_T[j] = Math.pow(2, j / 64);
const EXP_P2 = new Float64Array(2200);
for (let i = 0; i < 2200; i++) EXP_P2[i] = Math.pow(2, i - 1100);
const EXP_S = 64 / Math.LN2;
const EXP_HI = 6.9314718036912381649e-1 / 64;
const EXP_LO = 1.90821492927058770002e-10 / 64;
const ROUND = 6755399441055744;

function exp(x: number): number {
  if (!(x > -745.2 && x < 709.7)) return x > 0 ? Infinity : x < 0 ? 0 : NaN;
  const kd = x * EXP_S + ROUND - ROUND;
  const r = x - kd * EXP_HI - kd * EXP_LO;
  const k = kd | 0;
  return EXP_P2[(k >> 6) + 1100]! * EXP_T[k & 63]! * (1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24)))));
}

/** Per-call scratch of `maskedBlock` and the softmax loops. */
export interface BlockScratch {
  X: Float64Array;
  rep: Uint8Array;
  mx: Float64Array;
  sm: Float64Array;
  pq: Int32Array;
  bq: Int32Array;
}

/** The scratch of one call (sized by its chunk and window lengths). */
export function blockScratch(pl: Plan): BlockScratch {
  const { W, C } = pl;
  return {
    X: new Float64Array(W * C),
    rep: new Uint8Array(W * C),
    mx: new Float64Array(C),
    sm: new Float64Array(C),
    pq: new Int32Array(C),
    bq: new Int32Array(C),
  };
}

/**
 * The masked logits of one query chunk of a group over its window, in doubles (as the CPU reference:
 * replaced logits are −1e5 for the query's own position under `excludeSelf`, else −1e9 where causal,
 * padding or bucket rules forbid the key), laid out `X[w·C + t]` for window key w and query t of the
 * chunk; `rep` = 1 where replaced; `mx[t]` the row maxima. `sT` is the group's `[R, M]` transposed
 * `q·k`; the chunk's queries are columns c0 … c0 + C − 1 and its window rows c0 … c0 + W − 1, so every
 * inner loop runs along a contiguous row of `sT`.
 */
function maskedBlock(
  pl: Plan,
  h: HostInputs,
  sT: Float32Array,
  M: number,
  keys: Int32Array,
  c0: number,
  q0: number,
  s: BlockScratch,
): void {
  const { W, C, scale, causal, excludeSelf } = pl;
  const { X, rep, mx, pq, bq } = s;
  const pos = h.pos;
  const keyBad = h.keyBad;
  const bucket = h.bucket;
  const rules = causal || excludeSelf || keyBad !== undefined || bucket !== undefined;
  for (let t = 0; t < C; t++) {
    mx[t] = -Infinity;
    pq[t] = pos[q0 + c0 + t]!;
    bq[t] = bucket !== undefined ? bucket[q0 + c0 + t]! : 0;
  }
  for (let w = 0; w < W; w++) {
    const ks = keys[c0 + w]!;
    const so = (c0 + w) * M + c0;
    const xo = w * C;
    if (!rules) {
      for (let t = 0; t < C; t++) {
        const x = scale * sT[so + t]!;
        X[xo + t] = x;
        rep[xo + t] = 0;
        if (x > mx[t]!) mx[t] = x;
      }
      continue;
    }
    const pk = pos[ks]!;
    const kBad = keyBad !== undefined && keyBad[ks] === 1;
    const bk = bucket !== undefined ? bucket[ks]! : 0;
    for (let t = 0; t < C; t++) {
      let x: number;
      let r = 1;
      const p = pq[t]!;
      if (excludeSelf && pk === p) x = SELF_LOGIT;
      else if (kBad || (causal && pk > p) || (bucket !== undefined && bk !== bq[t])) x = MASKED_LOGIT;
      else {
        x = scale * sT[so + t]!;
        r = 0;
      }
      X[xo + t] = x;
      rep[xo + t] = r;
      if (x > mx[t]!) mx[t] = x;
    }
  }
}

/**
 * The forward softmax of one band group from its transposed logits `sT` `[R, M]`: per query the lse
 * (doubles, rounded to float32) into `lseH` at its slot, and `p = exp(s − max)·exp(max − lse₃₂)` into
 * the in-band entries of `p` `[M, R]` (out-of-band entries are left as they are: 0).
 */
export function bandSoftmax(
  pl: Plan,
  h: HostInputs,
  b: Band,
  sT: Float32Array,
  sc: BlockScratch,
  p: Float32Array,
  lseH: Float32Array,
): void {
  const { C, W } = pl;
  const { q0, M, R, keys } = b;
  const { X, mx, sm } = sc;
  for (let c0 = 0; c0 < M; c0 += C) {
    maskedBlock(pl, h, sT, M, keys, c0, q0, sc);
    sm.fill(0);
    for (let w = 0; w < W; w++) {
      const xo = w * C;
      for (let t = 0; t < C; t++) {
        const e = exp(X[xo + t]! - mx[t]!);
        X[xo + t] = e;
        sm[t] = sm[t]! + e;
      }
    }
    for (let t = 0; t < C; t++) {
      const lse32 = Math.fround(mx[t]! + Math.log(sm[t]!));
      lseH[q0 + c0 + t] = lse32;
      sm[t] = Math.exp(mx[t]! - lse32); // the row's factor
    }
    for (let t = 0; t < C; t++) {
      const f = sm[t]!;
      const po = (c0 + t) * R + c0;
      if (h.dropout === undefined) {
        for (let w = 0; w < W; w++) p[po + w] = X[w * C + t]! * f;
      } else {
        // Dropout after the normalisation: p·z (z = 1/(1 − rate) or 0).
        const row = h.dropout.rowKey(q0 + c0 + t);
        for (let w = 0; w < W; w++) p[po + w] = X[w * C + t]! * f * h.dropout.factor(row, keys[c0 + w]!);
      }
    }
  }
}

/** The backward terms of one band group, written over its band only (`[M, R]` and `[R, M]`). */
export interface BandGradTerms {
  /** `ds` `[M, R]`. */
  ds: Float32Array;
  /** `ds` transposed, `[R, M]`. */
  dsT: Float32Array;
  /** `p` transposed, `[R, M]`. */
  pT: Float32Array;
}

/**
 * The backward terms of one band group from its transposed logits `sT` and `dpT = v·dOutᵀ` (`[R, M]`):
 * `p = exp(s − lse)` and `ds = p·(dp + shift)` (0 on replaced logits), `shift = dLse − D` per row.
 */
export function bandGrad(
  pl: Plan,
  h: HostInputs,
  b: Band,
  sT: Float32Array,
  dpT: Float32Array,
  lseH: Float32Array,
  shift: Float64Array,
  sc: BlockScratch,
  out: BandGradTerms,
): void {
  const { C, W } = pl;
  const { q0, M, R, keys } = b;
  const { X, rep } = sc;
  const { ds, dsT, pT } = out;
  const drop = h.dropout;
  const rows = drop === undefined ? undefined : new Float64Array(C);
  for (let c0 = 0; c0 < M; c0 += C) {
    maskedBlock(pl, h, sT, M, keys, c0, q0, sc);
    const qb = q0 + c0;
    if (drop !== undefined) {
      // With dropout z: pᵀ holds p·z (for dv) and ds = p·(z·dp + shift).
      for (let t = 0; t < C; t++) rows![t] = drop.rowKey(qb + t);
      for (let w = 0; w < W; w++) {
        const xo = w * C;
        const to = (c0 + w) * M + c0;
        const ks = keys[c0 + w]!;
        for (let t = 0; t < C; t++) {
          const pw = exp(X[xo + t]! - lseH[qb + t]!);
          const z = drop.factor(rows![t]!, ks);
          pT[to + t] = pw * z;
          const g = rep[xo + t] === 0 ? pw * (z * dpT[to + t]! + shift[qb + t]!) : 0;
          dsT[to + t] = g;
          ds[(c0 + t) * R + c0 + w] = g;
        }
      }
      continue;
    }
    for (let w = 0; w < W; w++) {
      const xo = w * C;
      const to = (c0 + w) * M + c0;
      for (let t = 0; t < C; t++) {
        const pw = exp(X[xo + t]! - lseH[qb + t]!);
        pT[to + t] = pw;
        const g = rep[xo + t] === 0 ? pw * (dpT[to + t]! + shift[qb + t]!) : 0;
        dsT[to + t] = g;
        ds[(c0 + t) * R + c0 + w] = g;
      }
    }
  }
}
