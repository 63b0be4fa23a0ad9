/**
 * Fused chunked attention (docs/architecture.md, "Attention rules"; docs/attention-semantics.md
 * §4.5–4.9), forward and backward.
 *
 * For every batch b and head h, the N slots are cut into `nChunks = N / chunkLength` chunks. The queries
 * of chunk n attend to the window of chunks `n − before, …, n + after` (mod nChunks, in that order;
 * a chunk that occurs twice is attended twice). Logits are `scale · q·k`, REPLACED by −1e9 where the
 * key is not allowed (causal and `pos[k] > pos[q]`, padding mask 0 at `pos[k]`, other bucket) and then by
 * −1e5 where `excludeSelf` and `pos[k] == pos[q]`.
 *
 * Forward, per query row: `lse = max + log Σ exp(s − max)` in doubles, rounded to float32 (as Hugging
 * Face's float32 logsumexp); `out = Σ exp(s − lse₃₂)·v` uses that rounded value, so the backward, which
 * only sees the stored float32 lse, recomputes exactly the probabilities the forward used.
 *
 * Backward, per query row, recomputing `s` and `p = exp(s − lse)`: `D = dOut·out`,
 * `ds = p·(dOut·v − D + dLse)` on logits that were not replaced (0 on replaced ones);
 * `dq += scale·ds·k`, `dk += scale·ds·q`, `dv += p·dOut` (also for replaced logits: their p is a real
 * probability — the self key of a query with nothing else allowed gets p ≈ 1).
 *
 * Dropout (`opt.dropout`): each probability is multiplied by its factor z (`1/(1 − rate)` or 0, from
 * the hash of `attention-dropout.ts`, recomputed per row): `out = Σ p·z·v`, and in the backward
 * `dv += p·z·dOut`, `ds = p·(z·dOut·v − D + dLse)`. The lse is not affected.
 *
 * Memory: only one query row × window of logits exists at a time. dk/dv of one (batch, head) are
 * accumulated in doubles (`N × d` scratch, reused across heads) and rounded once.
 */
import {
  attentionDropoutKeeps,
  attentionDropoutRowKey,
  attentionDropoutWords,
  type AttentionDropout,
  type AttentionDropoutWords,
} from '../attention-dropout.js';
import { attentionWindowSlots } from '../attention-rules.js';
import { MASKED_LOGIT, SELF_LOGIT, type ChunkedAttentionRules } from '../backend.js';
import { InvalidArgumentError } from '../errors.js';
import { checkDivisor } from '../validate.js';

/** What the attention kernels need of `ChunkedAttentionParams`, with host arrays instead of tensors. */
export interface AttentionOptions extends ChunkedAttentionRules {
  /** int32 `[B, H, N]` original positions, or undefined for `pos = slot`. */
  positions: Int32Array | undefined;
  /** int32 `[B, L]` padding mask indexed by position, or undefined. */
  keyMask: Int32Array | undefined;
  /** L, the length of a keyMask row. */
  maskLength: number;
  /** Rows of the keyMask: B, or 1 for one mask shared by the whole batch. */
  maskRows: number;
  /** int32 `[B, H, N]` buckets, or undefined. */
  buckets: Int32Array | undefined;
  /** Dropout on the probabilities, or undefined. */
  dropout?: AttentionDropout | undefined;
}

/** Sizes of one call: `q`, `k` `[B, H, N, d]`, `v` `[B, H, N, dv]`. */
export interface AttentionDims {
  B: number;
  H: number;
  N: number;
  d: number;
  dv: number;
}

/**
 * Per-call state: validated sizes, the window of the current query chunk (slots, positions, mask bits,
 * buckets of its keys) and one row of logits. Allocated once per kernel call.
 */
class AttentionPlan {
  readonly nChunks: number;
  /** Keys per window: chunkLength · (before + 1 + after). */
  readonly W: number;
  readonly winSlot: Int32Array;
  readonly winPos: Int32Array;
  /** 1 where the window key is allowed by the padding mask and bucket, before causal and self rules. */
  readonly winOk: Uint8Array;
  readonly winBucket: Int32Array;
  /** Logits of the current query row over the window. */
  readonly logits: Float64Array;
  /** 1 where the current row's logit was replaced by a mask value. */
  readonly replaced: Uint8Array;
  /** Probabilities of the current row over the window. */
  readonly probs: Float64Array;
  /** Window indices of the current row whose probability is not 0. */
  readonly live: Int32Array;
  /** Dropout factors (1/(1 − rate) or 0) of the current row over the window, when dropout is on. */
  readonly keep: Float64Array;
  /** The dropout words, or undefined without dropout (or with rate 0). */
  readonly dropout: AttentionDropoutWords | undefined;
  /** Slots per round of the dropout hash. */
  readonly roundLength: number;
  /** `[nChunks · W]` the window slots of every chunk (`attentionWindowSlots`). */
  readonly windowSlots: Int32Array;

  constructor(
    readonly dims: AttentionDims,
    readonly opt: AttentionOptions,
  ) {
    const { N } = dims;
    const c = opt.chunkLength;
    checkDivisor('chunkedAttention', 'chunkLength', c, N, 'the sequence length');
    if (!(opt.chunksBefore >= 0 && opt.chunksAfter >= 0)) {
      throw new InvalidArgumentError(
        `chunkedAttention: chunksBefore (${opt.chunksBefore}) and chunksAfter (${opt.chunksAfter}) must be >= 0.`,
      );
    }
    this.nChunks = N / c;
    this.W = c * (opt.chunksBefore + 1 + opt.chunksAfter);
    this.windowSlots = attentionWindowSlots(this.nChunks, c, opt.chunksBefore, opt.chunksAfter);
    this.winSlot = new Int32Array(this.W);
    this.winPos = new Int32Array(this.W);
    this.winOk = new Uint8Array(this.W);
    this.winBucket = new Int32Array(this.W);
    this.logits = new Float64Array(this.W);
    this.replaced = new Uint8Array(this.W);
    this.probs = new Float64Array(this.W);
    this.live = new Int32Array(this.W);
    const drop = opt.dropout;
    this.dropout = drop !== undefined && drop.rate > 0 ? attentionDropoutWords(drop.rate, drop.seed) : undefined;
    this.roundLength = drop?.roundLength ?? N;
    checkDivisor('chunkedAttention', 'dropout.roundLength', this.roundLength, N, 'the sequence length');
    this.keep = new Float64Array(this.dropout === undefined ? 0 : this.W);
    this.checkSizes();
    this.checkPositions();
  }

  /** The int32 side inputs must have exactly the sizes the kernel indexes. */
  private checkSizes(): void {
    const { B, H, N } = this.dims;
    const { positions, buckets, keyMask, maskRows, maskLength } = this.opt;
    for (const [name, arr] of [
      ['positions', positions],
      ['buckets', buckets],
    ] as const) {
      if (arr !== undefined && arr.length !== B * H * N) {
        throw new InvalidArgumentError(
          `chunkedAttention: ${name} must have shape [${B}, ${H}, ${N}] (${B * H * N} values), got ${arr.length} values.`,
        );
      }
    }
    if (keyMask !== undefined && ((maskRows !== B && maskRows !== 1) || keyMask.length !== maskRows * maskLength)) {
      throw new InvalidArgumentError(
        `chunkedAttention: keyMask must have shape [${B}, L] (or [1, L]), got ${keyMask.length} values in ${maskRows} rows.`,
      );
    }
  }

  /**
   * The padding mask is indexed by position: without positions, the slots 0..N-1 must fit in it.
   * Given positions, the ops layer has already checked that each lies in [0, L) (`checkMaskPositions`).
   */
  private checkPositions(): void {
    const { keyMask, positions, maskLength } = this.opt;
    if (keyMask === undefined || positions !== undefined) return;
    if (this.dims.N > maskLength) {
      throw new InvalidArgumentError(
        `chunkedAttention: keyMask rows have length ${maskLength} but the ${this.dims.N} slots use positions 0..${this.dims.N - 1}; pass positions or a longer mask.`,
      );
    }
  }

  /** Position of a slot of head `bh` (b·H + h). */
  position(bh: number, slot: number): number {
    const positions = this.opt.positions;
    return positions === undefined ? slot : positions[bh * this.dims.N + slot]!;
  }

  /** Bucket of a slot of head `bh` (0 when there are no buckets). */
  bucket(bh: number, slot: number): number {
    const buckets = this.opt.buckets;
    return buckets === undefined ? 0 : buckets[bh * this.dims.N + slot]!;
  }

  /**
   * With dropout, fills `keep` with the factors of query slot `qSlot` (position `qPos`) of batch `b`,
   * head `bh` over the loaded window and returns true; without, returns false.
   */
  dropoutRow(b: number, bh: number, qSlot: number, qPos: number): boolean {
    const words = this.dropout;
    if (words === undefined) return false;
    const h = bh - b * this.dims.H;
    const row = attentionDropoutRowKey(words, b, h, Math.floor(qSlot / this.roundLength), qPos);
    const { keep, winPos, W } = this;
    for (let w = 0; w < W; w++) keep[w] = attentionDropoutKeeps(words, row, winPos[w]!) ? words.keepScale : 0;
    return true;
  }

  /** Fills the window arrays for query chunk `n` of batch `b`, head `bh`. */
  loadWindow(b: number, bh: number, n: number): void {
    const { keyMask, maskLength, maskRows } = this.opt;
    const maskBase = maskRows === 1 ? 0 : b * maskLength;
    const { W, windowSlots } = this;
    for (let w = 0; w < W; w++) {
      const slot = windowSlots[n * W + w]!;
      const pos = this.position(bh, slot);
      this.winSlot[w] = slot;
      this.winPos[w] = pos;
      this.winBucket[w] = this.bucket(bh, slot);
      this.winOk[w] = keyMask === undefined || keyMask[maskBase + pos] !== 0 ? 1 : 0;
    }
  }

  /**
   * Computes the logits of the query in slot `qSlot` over the loaded window into `logits` (and
   * `replaced`), from `q` at `qOff` and the keys of head base `kBase`. Returns the row maximum.
   */
  scoreRow(q: Float32Array, qOff: number, k: Float32Array, kBase: number, qPos: number, qBucket: number): number {
    const { W, winSlot, winPos, winOk, winBucket, logits, replaced } = this;
    const d = this.dims.d;
    const { scale, causal, excludeSelf } = this.opt;
    const hasBuckets = this.opt.buckets !== undefined;
    let max = -Infinity;
    for (let w = 0; w < W; w++) {
      // `attentionLogitRule` written out: a call per key measurably slows this hot loop.
      const kPos = winPos[w]!;
      let s: number;
      let rep = 0;
      if (excludeSelf && kPos === qPos) {
        s = SELF_LOGIT;
        rep = 1;
      } else if ((causal && kPos > qPos) || winOk[w] === 0 || (hasBuckets && winBucket[w] !== qBucket)) {
        s = MASKED_LOGIT;
        rep = 1;
      } else {
        s = scale * dot(q, qOff, k, kBase + winSlot[w]! * d, d);
      }
      logits[w] = s;
      replaced[w] = rep;
      if (s > max) max = s;
    }
    return max;
  }
}

/** `Σ_e a[ai + e]·b[bi + e]` for e < n, with four partial sums. */
function dot(a: Float32Array, ai: number, b: Float32Array, bi: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let e = 0;
  for (; e + 4 <= n; e += 4) {
    s0 += a[ai + e]! * b[bi + e]!;
    s1 += a[ai + e + 1]! * b[bi + e + 1]!;
    s2 += a[ai + e + 2]! * b[bi + e + 2]!;
    s3 += a[ai + e + 3]! * b[bi + e + 3]!;
  }
  for (; e < n; e++) s0 += a[ai + e]! * b[bi + e]!;
  return s0 + s1 + (s2 + s3);
}

/**
 * Sets `probs[w] = exp(logits[w] − lse)` for every window key and lists in `live` the keys whose
 * probability is not 0. Returns the number of live keys.
 */
function probabilities(logits: Float64Array, lse: number, probs: Float64Array, live: Int32Array, W: number): number {
  let nLive = 0;
  for (let w = 0; w < W; w++) {
    const p = Math.exp(logits[w]! - lse);
    probs[w] = p;
    if (p !== 0) live[nLive++] = w;
  }
  return nLive;
}

/**
 * `acc[e] += Σ_j probs[w_j] · v[vBase + slots[w_j]·dv + e]` over the live keys w_j, four keys per pass
 * over `e` (one load and store of `acc[e]` for four multiply-adds).
 */
function accumulateWeighted(
  acc: Float64Array,
  v: Float32Array,
  vBase: number,
  dv: number,
  slots: Int32Array,
  live: Int32Array,
  nLive: number,
  probs: Float64Array,
): void {
  let j = 0;
  for (; j + 4 <= nLive; j += 4) {
    const w0 = live[j]!;
    const w1 = live[j + 1]!;
    const w2 = live[j + 2]!;
    const w3 = live[j + 3]!;
    const p0 = probs[w0]!;
    const p1 = probs[w1]!;
    const p2 = probs[w2]!;
    const p3 = probs[w3]!;
    const o0 = vBase + slots[w0]! * dv;
    const o1 = vBase + slots[w1]! * dv;
    const o2 = vBase + slots[w2]! * dv;
    const o3 = vBase + slots[w3]! * dv;
    for (let e = 0; e < dv; e++) {
      acc[e] = acc[e]! + p0 * v[o0 + e]! + p1 * v[o1 + e]! + p2 * v[o2 + e]! + p3 * v[o3 + e]!;
    }
  }
  for (; j < nLive; j++) {
    const w = live[j]!;
    const p = probs[w]!;
    const o = vBase + slots[w]! * dv;
    for (let e = 0; e < dv; e++) acc[e] = acc[e]! + p * v[o + e]!;
  }
}

/** Forward: `out` `[B, H, N, dv]` and `lse` `[B, H, N]` (float32). */
export function chunkedAttention(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  dims: AttentionDims,
  opt: AttentionOptions,
): { out: Float32Array; lse: Float32Array } {
  const plan = new AttentionPlan(dims, opt);
  const { B, H, N, d, dv } = dims;
  const c = opt.chunkLength;
  const { W, winSlot, logits, probs, live } = plan;
  const out = new Float32Array(B * H * N * dv);
  const lseOut = new Float32Array(B * H * N);
  const acc = new Float64Array(dv);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      const qkBase = bh * N * d;
      const vBase = bh * N * dv;
      for (let n = 0; n < plan.nChunks; n++) {
        plan.loadWindow(b, bh, n);
        for (let t = 0; t < c; t++) {
          const slot = n * c + t;
          const qPos = plan.position(bh, slot);
          const max = plan.scoreRow(q, qkBase + slot * d, k, qkBase, qPos, plan.bucket(bh, slot));
          const dropped = plan.dropoutRow(b, bh, slot, qPos);
          // lse in doubles, then rounded to float32; the probabilities use the rounded value:
          // p = exp(s − max)·exp(max − lse₃₂), one exp per key.
          let sum = 0;
          for (let w = 0; w < W; w++) {
            const e = Math.exp(logits[w]! - max);
            probs[w] = e;
            sum += e;
          }
          const lse32 = Math.fround(max + Math.log(sum));
          lseOut[bh * N + slot] = lse32;
          const factor = Math.exp(max - lse32);
          let nLive = 0;
          for (let w = 0; w < W; w++) {
            const p = dropped ? probs[w]! * factor * plan.keep[w]! : probs[w]! * factor;
            probs[w] = p;
            if (p !== 0) live[nLive++] = w;
          }
          acc.fill(0);
          accumulateWeighted(acc, v, vBase, dv, winSlot, live, nLive, probs);
          out.set(acc, vBase + slot * dv);
        }
      }
    }
  }
  return { out, lse: lseOut };
}

/**
 * For the live keys w of one query row: `dp[w] = dOut·v_w` and `dvAcc_w += probs[w]·dOut`, two keys
 * per pass over the value dimension (one load of `dOut[e]` for both).
 */
function valueGrads(
  dOut: Float32Array,
  oOff: number,
  v: Float32Array,
  vBase: number,
  dvAcc: Float64Array,
  dv: number,
  slots: Int32Array,
  live: Int32Array,
  nLive: number,
  probs: Float64Array,
  dp: Float64Array,
): void {
  let j = 0;
  for (; j + 2 <= nLive; j += 2) {
    const w0 = live[j]!;
    const w1 = live[j + 1]!;
    const p0 = probs[w0]!;
    const p1 = probs[w1]!;
    const r0 = slots[w0]! * dv;
    const r1 = slots[w1]! * dv;
    const o0 = vBase + r0;
    const o1 = vBase + r1;
    let dp0 = 0;
    let dp1 = 0;
    for (let e = 0; e < dv; e++) {
      const g = dOut[oOff + e]!;
      dp0 += g * v[o0 + e]!;
      dp1 += g * v[o1 + e]!;
      // Sequential updates stay correct when both keys are the same slot (a duplicated chunk).
      dvAcc[r0 + e] = dvAcc[r0 + e]! + p0 * g;
      dvAcc[r1 + e] = dvAcc[r1 + e]! + p1 * g;
    }
    dp[w0] = dp0;
    dp[w1] = dp1;
  }
  for (; j < nLive; j++) {
    const w = live[j]!;
    const p = probs[w]!;
    const r = slots[w]! * dv;
    const o = vBase + r;
    let acc = 0;
    for (let e = 0; e < dv; e++) {
      const g = dOut[oOff + e]!;
      acc += g * v[o + e]!;
      dvAcc[r + e] = dvAcc[r + e]! + p * g;
    }
    dp[w] = acc;
  }
}

/**
 * For the live keys w of one query row with logit gradients `ds[w]`: `dqAcc += ds[w]·k_w` (unscaled)
 * and `dkAcc_w += scale·ds[w]·q`, two keys per pass over the key dimension. Keys with `ds = 0`
 * (replaced logits) are skipped.
 */
function keyQueryGrads(
  q: Float32Array,
  qOff: number,
  k: Float32Array,
  kBase: number,
  dqAcc: Float64Array,
  dkAcc: Float64Array,
  d: number,
  scale: number,
  slots: Int32Array,
  live: Int32Array,
  nLive: number,
  ds: Float64Array,
): void {
  let pending = -1;
  for (let j = 0; j < nLive; j++) {
    const w = live[j]!;
    if (ds[w] === 0) continue;
    if (pending < 0) {
      pending = w;
      continue;
    }
    // Two keys: `pending` and `w`.
    const s0 = ds[pending]!;
    const s1 = ds[w]!;
    const t0 = scale * s0;
    const t1 = scale * s1;
    const r0 = slots[pending]! * d;
    const r1 = slots[w]! * d;
    const k0 = kBase + r0;
    const k1 = kBase + r1;
    for (let e = 0; e < d; e++) {
      const qe = q[qOff + e]!;
      dqAcc[e] = dqAcc[e]! + s0 * k[k0 + e]! + s1 * k[k1 + e]!;
      dkAcc[r0 + e] = dkAcc[r0 + e]! + t0 * qe;
      dkAcc[r1 + e] = dkAcc[r1 + e]! + t1 * qe;
    }
    pending = -1;
  }
  if (pending >= 0) {
    const s0 = ds[pending]!;
    const t0 = scale * s0;
    const r0 = slots[pending]! * d;
    const k0 = kBase + r0;
    for (let e = 0; e < d; e++) {
      dqAcc[e] = dqAcc[e]! + s0 * k[k0 + e]!;
      dkAcc[r0 + e] = dkAcc[r0 + e]! + t0 * q[qOff + e]!;
    }
  }
}

/** Backward: `dq`, `dk` `[B, H, N, d]` and `dv` `[B, H, N, dv]`. */
export function chunkedAttentionBackward(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  out: Float32Array,
  lse: Float32Array,
  dOut: Float32Array,
  dLse: Float32Array,
  dims: AttentionDims,
  opt: AttentionOptions,
): { dq: Float32Array; dk: Float32Array; dv: Float32Array } {
  const plan = new AttentionPlan(dims, opt);
  const { B, H, N, d, dv } = dims;
  const c = opt.chunkLength;
  const scale = opt.scale;
  const { W, winSlot, logits, replaced, probs, live, keep } = plan;
  const dq = new Float32Array(B * H * N * d);
  const dk = new Float32Array(B * H * N * d);
  const dvOut = new Float32Array(B * H * N * dv);
  // Double accumulators: dk and dv of one (batch, head), dq of one query, ds of the live keys.
  const dkAcc = new Float64Array(N * d);
  const dvAcc = new Float64Array(N * dv);
  const dqAcc = new Float64Array(d);
  const dp = new Float64Array(W);
  const ds = new Float64Array(W);
  // With dropout: the dropped probabilities p·z (for dv); `probs` keeps p (for ds).
  const dropProbs = new Float64Array(plan.dropout === undefined ? 0 : W);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      const qkBase = bh * N * d;
      const vBase = bh * N * dv;
      dkAcc.fill(0);
      dvAcc.fill(0);
      for (let n = 0; n < plan.nChunks; n++) {
        plan.loadWindow(b, bh, n);
        for (let t = 0; t < c; t++) {
          const slot = n * c + t;
          const qOff = qkBase + slot * d;
          const oOff = vBase + slot * dv;
          const qPos = plan.position(bh, slot);
          plan.scoreRow(q, qOff, k, qkBase, qPos, plan.bucket(bh, slot));
          const nLive = probabilities(logits, lse[bh * N + slot]!, probs, live, W);
          const dropped = plan.dropoutRow(b, bh, slot, qPos);
          if (dropped) for (let w = 0; w < W; w++) dropProbs[w] = probs[w]! * keep[w]!;
          // D = dOut·out; then per live key: dp = dOut·v, dv += p·dOut, ds = p·(dp − D + dLse).
          let D = 0;
          for (let e = 0; e < dv; e++) D += dOut[oOff + e]! * out[oOff + e]!;
          const shift = dLse[bh * N + slot]! - D;
          valueGrads(dOut, oOff, v, vBase, dvAcc, dv, winSlot, live, nLive, dropped ? dropProbs : probs, dp);
          for (let j = 0; j < nLive; j++) {
            const w = live[j]!;
            const dpw = dropped ? keep[w]! * dp[w]! : dp[w]!;
            ds[w] = replaced[w] === 1 ? 0 : probs[w]! * (dpw + shift);
          }
          // dq = scale·Σ ds·k, dk += scale·ds·q.
          dqAcc.fill(0);
          keyQueryGrads(q, qOff, k, qkBase, dqAcc, dkAcc, d, scale, winSlot, live, nLive, ds);
          for (let e = 0; e < d; e++) dq[qOff + e] = scale * dqAcc[e]!;
        }
      }
      dk.set(dkAcc, qkBase);
      dvOut.set(dvAcc, vBase);
    }
  }
  return { dq, dk, dv: dvOut };
}
