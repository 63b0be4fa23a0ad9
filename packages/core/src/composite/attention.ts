/**
 * Composite chunked attention, forward and backward, from primitives: the executable definition of
 * the attention rules (docs/architecture.md, "Attention rules") that every fused kernel is tested
 * against through the conformance suite.
 *
 * For each batch b and head h the N slots are cut into `nChunks = N / chunkLength` chunks; the queries
 * of chunk n attend to the window of chunks `n − before, …, n + after` (mod nChunks, in that order; a
 * chunk that occurs twice is attended twice) — see {@link attentionWindowSlots}. Logits are
 * `scale · q·k`, REPLACED by `MASKED_LOGIT` where the key is not allowed and then by `SELF_LOGIT` at
 * the query's own position under `excludeSelf` (`maskAttentionLogits` of `attention-rules.ts`). The
 * per-query logsumexp is a float32 value and the probabilities are `p = exp(s − lse)` with it;
 * dropout multiplies p by the factor of `attention-dropout.ts` (the lse is not affected), hashed on
 * the host when positions are slot indices and on the device otherwise (`dropout-hash.ts`).
 *
 * Memory: the queries are processed in groups — whole chunks, or the rows of one chunk when a chunk's
 * window is too large (full attention is one chunk) — whose logits `[B, H, chunks, rows, W]` and
 * windows hold at most about {@link ATTENTION_GROUP_ELEMENTS} values, never the whole `[B, H, N, W]`
 * (nor L × L). Outputs are joined with `concat`; the backward accumulates `dk` and `dv` with
 * `scatterAdd` group by group.
 *
 * @module
 */
import { attentionDropoutKeeps, attentionDropoutRoundKey, attentionDropoutRowKey, attentionDropoutWords } from '../attention-dropout.js';
import { attentionWindowSlots, maskAttentionLogits, type AttentionMaskOps } from '../attention-rules.js';
import type { Backend, ChunkedAttentionParams, KernelTensor } from '../backend.js';
import { absorb, atLeast, u32FromHost, u32FromInt, xorTable } from './dropout-hash.js';
import { kernelScope, reshape, type Kernels } from './scope.js';
import { rowLogSumExp } from './softmax.js';

type KT = KernelTensor;

/** The most logits (values) one chunk group holds in the composite attention (16 MiB of float32). */
export const ATTENTION_GROUP_ELEMENTS = 2 ** 22;

/** Group-sized tensors alive at once while the device-side dropout hash runs (bounds its groups). */
const DEVICE_HASH_LIVE_TENSORS = 32;

/** {@link AttentionMaskOps} on the primitive kernels of a scope. */
function kernelMaskOps(k: Kernels): AttentionMaskOps<KT> {
  return { binary: (op, a, b) => k.binary(op, a, b), where: (c, a, b) => k.where(c, a, b), scalar: (v, dtype) => k.scalar(v, dtype) };
}

/** Sizes and host tables of one call. */
interface Plan {
  B: number;
  H: number;
  N: number;
  d: number;
  dv: number;
  c: number;
  W: number;
  nChunks: number;
  /** Whole chunks per group, or 1 when a group is `rows` rows of one chunk. */
  chunksPerGroup: number;
  /** Query rows of a chunk per group (`c` when groups are whole chunks). */
  rowsPerGroup: number;
  /** `[nChunks · W]` window slot of every chunk's keys. */
  slots: Int32Array;
}

function planOf(q: KT, v: KT, p: ChunkedAttentionParams, groupElements: number): Plan {
  const [B, H, N, d] = q.shape as [number, number, number, number];
  const dv = v.shape[3]!;
  const c = p.chunkLength;
  const nChunks = N / c;
  const W = c * (p.chunksBefore + 1 + p.chunksAfter);
  // The device-side dropout hash keeps a few dozen group-sized int32 tensors alive: smaller groups.
  const budget =
    p.dropout !== undefined && p.dropout.rate > 0 && p.positions !== undefined ? groupElements / DEVICE_HASH_LIVE_TENSORS : groupElements;
  // A whole chunk holds its logits [c, W] and its window's keys and values [W, d], [W, dv].
  const perChunk = Math.max(1, B * H * W * Math.max(c, d, dv));
  const chunksPerGroup = Math.max(1, Math.min(nChunks, Math.floor(budget / perChunk)));
  const rowsPerGroup = budget >= perChunk ? c : Math.max(1, Math.min(c, Math.floor(budget / Math.max(1, B * H * W))));
  return {
    B,
    H,
    N,
    d,
    dv,
    c,
    W,
    nChunks,
    chunksPerGroup,
    rowsPerGroup,
    slots: attentionWindowSlots(nChunks, c, p.chunksBefore, p.chunksAfter),
  };
}

/**
 * The queries of one group: rows `r0 .. r0 + rows` of chunks `n0 .. n0 + chunks` (whole chunks, or
 * part of one chunk), which are the consecutive slots `start .. start + chunks·rows`.
 */
interface Span {
  n0: number;
  chunks: number;
  r0: number;
  rows: number;
}

function spanStart(plan: Plan, s: Span): number {
  return s.n0 * plan.c + s.r0;
}

/** What one group recomputes: its queries, window keys and values, masked logits. */
interface Group {
  /** First query slot and number of query slots. */
  start: number;
  size: number;
  /** int32 `[B, H, chunks·W]` window slots (gather/scatter indices). */
  index: KT;
  q: KT;
  k: KT;
  v: KT;
  logits: KT;
  replaced: KT | undefined;
  /** float32 `[B, H, chunks, rows, W]` dropout factors, or undefined. */
  dropout: KT | undefined;
}

/** The span's slots of `[B, H, N, ...]`, reshaped to `[B, H, chunks, rows, ...]`. */
function slots(k: Kernels, plan: Plan, x: KT, span: Span): KT {
  const rest = x.shape.slice(3);
  const s = k.slice(x, [0, 0, spanStart(plan, span), ...rest.map(() => 0)], [plan.B, plan.H, span.chunks * span.rows, ...rest]);
  return reshape(s, [plan.B, plan.H, span.chunks, span.rows, ...rest]);
}

/**
 * The dropout factors `[B, H, chunks, rows, W]` (`1/(1 − rate)` or 0) of a group, or undefined without
 * dropout. Without positions every position is a slot index and the factors are hashed on the host;
 * with positions (device data) the hash runs on the device (`dropout-hash.ts`), the part before the
 * query position (seed, batch, head, round) still on the host.
 */
function dropoutFactors(
  k: Kernels,
  plan: Plan,
  p: ChunkedAttentionParams,
  span: Span,
  queryPositions: KT,
  keyPositions: KT,
): KT | undefined {
  const drop = p.dropout;
  if (drop === undefined || !(drop.rate > 0)) return undefined;
  const words = attentionDropoutWords(drop.rate, drop.seed);
  const { B, H, N, c, W, slots: table } = plan;
  const { n0, chunks, r0, rows } = span;
  const start = spanStart(plan, span);
  const roundLength = drop.roundLength ?? N;
  if (p.positions === undefined) {
    const out = new Float32Array(B * H * chunks * rows * W);
    let i = 0;
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let n = n0; n < n0 + chunks; n++) {
          for (let t = r0; t < r0 + rows; t++) {
            const qSlot = n * c + t;
            const row = attentionDropoutRowKey(words, b, h, Math.floor(qSlot / roundLength), qSlot);
            for (let w = 0; w < W; w++) out[i++] = attentionDropoutKeeps(words, row, table[n * W + w]!) ? words.keepScale : 0;
          }
        }
      }
    }
    return k.write(out, [B, H, chunks, rows, W], 'float32');
  }
  const prefix = new Uint32Array(B * H * chunks * rows);
  let i = 0;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let slot = start; slot < start + chunks * rows; slot++)
        prefix[i++] = attentionDropoutRoundKey(words, b, h, Math.floor(slot / roundLength));
    }
  }
  const xor = xorTable(k);
  const row = absorb(k, xor, u32FromHost(k, prefix, [B, H, chunks, rows, 1]), u32FromInt(k, queryPositions));
  const bits = absorb(k, xor, row, u32FromInt(k, keyPositions));
  const keep = atLeast(k, bits, words.threshold);
  return k.where(keep, k.scalar(words.keepScale), k.scalar(0));
}

/** Recomputes the masked logits of the queries of `span`. */
function group(k: Kernels, plan: Plan, q: KT, kk: KT, v: KT, p: ChunkedAttentionParams, span: Span): Group {
  const { B, H, W, d, dv } = plan;
  const { n0, chunks, rows } = span;
  const start = spanStart(plan, span);
  const GW = chunks * W;
  const host = new Int32Array(B * H * GW);
  const window = plan.slots.subarray(n0 * W, (n0 + chunks) * W);
  for (let bh = 0; bh < B * H; bh++) host.set(window, bh * GW);
  const index = k.write(host, [B, H, GW], 'int32');
  const qG = slots(k, plan, q, span);
  const kW = reshape(k.gather(kk, index, 2), [B, H, chunks, W, d]);
  const vW = reshape(k.gather(v, index, 2), [B, H, chunks, W, dv]);
  let logits = k.matmul(qG, kW, false, true); // [B, H, chunks, rows, W]
  if (p.scale !== 1) logits = k.binary('mul', logits, k.scalar(p.scale));
  const queryPositions =
    p.positions !== undefined
      ? reshape(slots(k, plan, p.positions, span), [B, H, chunks, rows, 1])
      : k.write(
          Int32Array.from({ length: chunks * rows }, (_, i) => start + i),
          [1, 1, chunks, rows, 1],
          'int32',
        );
  const keyFlat = p.positions !== undefined ? k.gather(p.positions, index, 2) : index; // [B, H, GW]
  const keyPositions = reshape(keyFlat, [B, H, chunks, 1, W]);
  const keyMaskBits =
    p.keyMask === undefined ? undefined : reshape(k.gather(p.keyMask, reshape(keyFlat, [B, H * GW]), 1), [B, H, chunks, 1, W]);
  const buckets = p.buckets;
  const masked = maskAttentionLogits(kernelMaskOps(k), logits, {
    queryPositions,
    keyPositions,
    keyMaskBits,
    queryBuckets: buckets === undefined ? undefined : reshape(slots(k, plan, buckets, span), [B, H, chunks, rows, 1]),
    keyBuckets: buckets === undefined ? undefined : reshape(k.gather(buckets, index, 2), [B, H, chunks, 1, W]),
    causal: p.causal,
    excludeSelf: p.excludeSelf,
  });
  const dropout = dropoutFactors(k, plan, p, span, queryPositions, keyPositions);
  return { start, size: chunks * rows, index, q: qG, k: kW, v: vW, logits: masked.logits, replaced: masked.replaced, dropout };
}

/** Runs `step` on every chunk group, each in its own scope (its intermediates freed before the next). */
function forEachGroup<R extends Record<string, KT>>(
  backend: Backend,
  plan: Plan,
  inputs: readonly (KT | undefined)[],
  step: (k: Kernels, span: Span) => R,
  done: (r: R) => void,
): void {
  const { nChunks, c, chunksPerGroup, rowsPerGroup } = plan;
  for (let n0 = 0; n0 < nChunks; n0 += chunksPerGroup) {
    const chunks = Math.min(chunksPerGroup, nChunks - n0);
    for (let r0 = 0; r0 < c; r0 += rowsPerGroup) {
      const span = { n0, chunks, r0, rows: Math.min(rowsPerGroup, c - r0) };
      done(kernelScope(backend, inputs, (k) => step(k, span)));
    }
  }
}

function sideInputs(p: ChunkedAttentionParams): KT[] {
  return [p.positions, p.keyMask, p.buckets].filter((t): t is KT => t !== undefined);
}

/** Joins the per-group parts along the slot axis (the part itself when there is one group). */
function joinSlots(k: Kernels, parts: KT[]): KT {
  return parts.length === 1 ? parts[0]! : k.concat(parts, 2);
}

/**
 * Composite `chunkedAttention`: `out` `[B, H, N, dv]` and `lse` `[B, H, N]` (see the module comment).
 * `groupElements` bounds the logits of one chunk group (tests lower it to force several groups).
 */
export function chunkedAttentionComposite(
  backend: Backend,
  q: KT,
  kk: KT,
  v: KT,
  p: ChunkedAttentionParams,
  groupElements = ATTENTION_GROUP_ELEMENTS,
): { out: KT; lse: KT } {
  const inputs = [q, kk, v, ...sideInputs(p)];
  return kernelScope(backend, inputs, (k) => {
    const plan = planOf(q, v, p, groupElements);
    const { B, H, dv } = plan;
    if (plan.nChunks === 0) return { out: k.fill(v.shape, 0), lse: k.fill(q.shape.slice(0, 3), 0) };
    const outs: KT[] = [];
    const lses: KT[] = [];
    forEachGroup(
      backend,
      plan,
      inputs,
      (gk, span) => {
        const G = group(gk, plan, q, kk, v, p, span);
        const lse = rowLogSumExp(gk, G.logits); // [B, H, chunks, rows, 1], float32
        let probs = gk.unary('exp', gk.binary('sub', G.logits, lse));
        if (G.dropout !== undefined) probs = gk.binary('mul', probs, G.dropout);
        const out = gk.matmul(probs, G.v); // [B, H, chunks, rows, dv]
        return { out: reshape(out, [B, H, G.size, dv]), lse: reshape(lse, [B, H, G.size]) };
      },
      (r) => {
        outs.push(k.adopt(r.out));
        lses.push(k.adopt(r.lse));
      },
    );
    return { out: joinSlots(k, outs), lse: joinSlots(k, lses) };
  });
}

/**
 * Composite `chunkedAttentionBackward`: with `p = exp(s − lse)` and dropout factor z (1 without),
 * `dv += (p·z)ᵀ·dOut`, `ds = p·(z·(dOut·vᵀ) − dOut·out + dLse)` (0 on replaced logits),
 * `dq = scale·ds·k`, `dk += scale·dsᵀ·q`.
 */
export function chunkedAttentionBackwardComposite(
  backend: Backend,
  q: KT,
  kk: KT,
  v: KT,
  out: KT,
  lse: KT,
  dOut: KT,
  dLse: KT,
  p: ChunkedAttentionParams,
  groupElements = ATTENTION_GROUP_ELEMENTS,
): { dq: KT; dk: KT; dv: KT } {
  const inputs = [q, kk, v, out, lse, dOut, dLse, ...sideInputs(p)];
  return kernelScope(backend, inputs, (k) => {
    const plan = planOf(q, v, p, groupElements);
    const { B, H, N, d, dv } = plan;
    if (plan.nChunks === 0) return { dq: k.fill(q.shape, 0), dk: k.fill(kk.shape, 0), dv: k.fill(v.shape, 0) };
    const dqs: KT[] = [];
    let dkSum: KT | undefined;
    let dvSum: KT | undefined;
    const accumulate = (sum: KT | undefined, part: KT): KT => {
      k.adopt(part);
      if (sum === undefined) return part;
      const next = k.binary('add', sum, part);
      k.release(sum);
      k.release(part);
      return next;
    };
    forEachGroup(
      backend,
      plan,
      inputs,
      (gk, span) => {
        const G = group(gk, plan, q, kk, v, p, span);
        const { chunks } = span;
        const rows = (x: KT) => reshape(slots(gk, plan, x, span), [B, H, chunks, span.rows, 1]);
        const probs = gk.unary('exp', gk.binary('sub', G.logits, rows(lse)));
        const dOutG = slots(gk, plan, dOut, span); // [B, H, chunks, rows, dv]
        const outG = slots(gk, plan, out, span);
        const kept = G.dropout === undefined ? probs : gk.binary('mul', probs, G.dropout);
        const dvW = gk.matmul(kept, dOutG, true, false); // [B, H, chunks, W, dv]
        const dvPart = gk.scatterAdd(reshape(dvW, [B, H, chunks * plan.W, dv]), G.index, 2, N);
        let dp = gk.matmul(dOutG, G.v, false, true); // [B, H, chunks, rows, W]
        if (G.dropout !== undefined) dp = gk.binary('mul', dp, G.dropout);
        const D = gk.reduceLast('sum', gk.binary('mul', dOutG, outG)); // [B, H, chunks, rows, 1]
        let ds = gk.binary('mul', probs, gk.binary('add', dp, gk.binary('sub', rows(dLse), D)));
        if (G.replaced !== undefined) ds = gk.where(G.replaced, gk.scalar(0), ds);
        const scale = gk.scalar(p.scale);
        const dq = gk.binary('mul', gk.matmul(ds, G.k), scale); // [B, H, chunks, rows, d]
        const dkW = gk.binary('mul', gk.matmul(ds, G.q, true, false), scale); // [B, H, chunks, W, d]
        const dkPart = gk.scatterAdd(reshape(dkW, [B, H, chunks * plan.W, d]), G.index, 2, N);
        return { dq: reshape(dq, [B, H, G.size, d]), dk: dkPart, dv: dvPart };
      },
      (r) => {
        dqs.push(k.adopt(r.dq));
        dkSum = accumulate(dkSum, r.dk);
        dvSum = accumulate(dvSum, r.dv);
      },
    );
    return { dq: joinSlots(k, dqs), dk: dkSum!, dv: dvSum! };
  });
}
