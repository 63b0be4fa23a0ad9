/**
 * The planning of one chunked-attention call: its tuning and input types, the sizes and per-slot
 * metadata of a call (`Plan`), and its chunk groups sized under the byte budget `groupBytes`, with the
 * chunks (batched strategy) or key slots (band strategy) each group covers.
 */
import type { AttentionDropout, ChunkedAttentionParams } from '@reformer/core';
import { DropoutPlan } from './attention-dropout.js';
import type { TfModule, TfTensor } from '../types.js';

/** How a group of chunks is formulated (see attention.ts). */
export type AttentionStrategy = 'band' | 'batched';

/** Tuning of the chunked-attention kernel. */
export interface AttentionConfig {
  /** Upper bound in bytes of one group's logits (the float32 `[rows, keys]` matrix of a group). */
  groupBytes: number;
  strategy: AttentionStrategy;
  /** Most chunks in one band group (the band's waste grows with it: (G + nW − 1) / nW). */
  bandChunks: number;
}

/** Sizes and per-slot metadata of one call, built inside the caller's `tf.tidy`. */
export interface Plan {
  BH: number;
  N: number;
  C: number;
  nC: number;
  before: number;
  nW: number;
  W: number;
  causal: boolean;
  excludeSelf: boolean;
  scale: number;
  /** float32 [BH·N] position of every slot (only when a position mask is needed). */
  pos?: TfTensor | undefined;
  /** float32 [BH·N] bucket of every slot. */
  bucket?: TfTensor | undefined;
  /** float32 [BH·N]: 1 where the key at this slot is padding (keyMask 0 at its position). */
  keyBad?: TfTensor | undefined;
  /** The call's dropout spec (`ChunkedAttentionParams.dropout`). */
  dropoutSpec?: AttentionDropout | undefined;
  /** Attention-probability dropout of the batched strategy, when the call has it. */
  dropout?: DropoutPlan | undefined;
}

/** The float views a kernel hands in: q, k `[B, H, N, d]` etc. already reshaped by the caller. */
export interface AttentionInputs {
  B: number;
  H: number;
  N: number;
  d: number;
  dv: number;
  q: TfTensor;
  k: TfTensor;
  v: TfTensor;
  positions?: TfTensor | undefined;
  keyMask?: TfTensor | undefined;
  buckets?: TfTensor | undefined;
}

/**
 * The plan of one call. With `device` (the batched strategy) it also holds the float32 slot metadata
 * its masks need (positions, buckets, padded keys); the band strategy builds its masks on the host.
 */
export function plan(tf: TfModule, p: ChunkedAttentionParams<unknown>, x: AttentionInputs, device: boolean): Plan {
  const { B, H, N } = x;
  const BH = B * H;
  const C = p.chunkLength;
  const nW = p.chunksBefore + p.chunksAfter + 1;
  const pl: Plan = {
    BH,
    N,
    C,
    nC: N / C,
    before: p.chunksBefore,
    nW,
    W: nW * C,
    causal: p.causal,
    excludeSelf: p.excludeSelf,
    scale: p.scale,
    dropoutSpec: p.dropout,
  };
  if (!device) return pl; // the band strategy builds its masks (and dropout) on the host
  pl.dropout = DropoutPlan.of(p.dropout, x);
  const needPos = p.causal || p.excludeSelf || x.keyMask !== undefined;
  let posI: TfTensor | undefined;
  if (needPos) {
    posI =
      x.positions !== undefined ? tf.reshape(x.positions, [B, H * N]) : tf.tile(tf.reshape(tf.range(0, N, 1, 'int32'), [1, N]), [B, H]);
    pl.pos = tf.reshape(tf.cast(posI, 'float32'), [BH * N]);
  }
  if (x.keyMask !== undefined && posI !== undefined) {
    const km = x.keyMask;
    const L = km.shape[km.shape.length - 1]!;
    const rowsM = km.shape.length < 2 ? 1 : km.shape[0]!;
    // keyBad[b, slot] = keyMask[b, pos[slot]] == 0, through one flat gather of the mask.
    const maskF = tf.cast(tf.equal(tf.reshape(km, [rowsM * L]), 0), 'float32');
    const rowBase = rowsM === 1 ? tf.zeros([B, 1], 'int32') : tf.mul(tf.reshape(tf.range(0, B, 1, 'int32'), [B, 1]), tf.scalar(L, 'int32'));
    const flat = tf.reshape(tf.add(posI, rowBase), [B * H * N]);
    pl.keyBad = tf.gather(maskF, flat);
  }
  if (x.buckets !== undefined) pl.bucket = tf.reshape(tf.cast(x.buckets, 'float32'), [BH * N]);
  return pl;
}

/** Groups `[start, size]` covering `count` items in steps of `g`. */
function groups(count: number, g: number): [number, number][] {
  const out: [number, number][] = [];
  for (let s = 0; s < count; s += g) out.push([s, Math.min(g, count - s)]);
  return out;
}

// ---------------------------------------------------------------- batched strategy

/** Batched groups `[first global chunk, chunk count]` over all BH·nC chunks, as many as fit `groupBytes`. */
export function batchedGroups(pl: Plan, cfg: AttentionConfig): [number, number][] {
  const total = pl.BH * pl.nC;
  const G = Math.max(1, Math.min(total, Math.floor(cfg.groupBytes / (4 * pl.C * pl.W))));
  return groups(total, G);
}

/** Global chunk ids of the windows of chunks g0 … g0 + G − 1 (over all BH rows), window order kept. */
export function windowChunks(pl: Plan, g0: number, G: number): Int32Array {
  const idx = new Int32Array(G * pl.nW);
  for (let i = 0; i < G; i++) {
    const gc = g0 + i;
    const row = Math.floor(gc / pl.nC);
    const n = gc - row * pl.nC;
    for (let o = 0; o < pl.nW; o++) {
      const m = (((n + o - pl.before) % pl.nC) + pl.nC) % pl.nC;
      idx[i * pl.nW + o] = row * pl.nC + m;
    }
  }
  return idx;
}

// ---------------------------------------------------------------- band strategy

/** Band groups: [row (b·H + h), first chunk, chunk count], sized by the budget and `bandChunks`. */
export function bandGroups(pl: Plan, cfg: AttentionConfig): [number, number, number][] {
  const { C, nW } = pl;
  let G = Math.max(1, Math.min(cfg.bandChunks, pl.nC));
  while (G > 1 && 4 * G * C * (G + nW - 1) * C > cfg.groupBytes) G--;
  const out: [number, number, number][] = [];
  for (let row = 0; row < pl.BH; row++) for (const [n0, g] of groups(pl.nC, G)) out.push([row, n0, g]);
  return out;
}

/** One band group's slots: query slots (contiguous) and key slots (window order, duplicates kept). */
export interface Band {
  q0: number;
  M: number;
  R: number;
  keys: Int32Array;
}

/** The slots of the band group `[row, n0, g]` (one of {@link bandGroups}). */
export function band(pl: Plan, [row, n0, g]: [number, number, number]): Band {
  const { C, nC, N } = pl;
  const nK = g + pl.nW - 1;
  const keys = new Int32Array(nK * C);
  for (let u = 0; u < nK; u++) {
    const m = (((n0 - pl.before + u) % nC) + nC) % nC;
    for (let t = 0; t < C; t++) keys[u * C + t] = row * N + m * C + t;
  }
  return { q0: row * N + n0 * C, M: g * C, R: nK * C, keys };
}
