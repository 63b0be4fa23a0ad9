/**
 * Shared plumbing of local and full attention: input checks, and chunked attention (the fused kernel,
 * or the plain-ops one with attention dropout) over a sequence padded to a multiple of the chunk length
 * (padding masked, output cut back).
 *
 * @module
 */
import { ShapeMismatchError, chunkedAttention, ones, pad, slice, tidy, type Tensor, formatShape } from '@reformer/core';
import { checkAttentionTensor, checkSameLeading } from './validate.js';
import { windowedAttention } from './windowed.js';

/** Checks q, k, v of a separate-key attention and returns [B, H, L, d, dv]. @internal */
export function checkQKV(fn: string, q: Tensor, k: Tensor, v: Tensor): [number, number, number, number, number] {
  const [B, H, L, d] = checkAttentionTensor(fn, 'q', q);
  checkAttentionTensor(fn, 'k', k);
  const dv = checkAttentionTensor(fn, 'v', v)[3];
  if (k.shape.some((x, i) => x !== q.shape[i])) {
    throw new ShapeMismatchError(`${fn}: k must have the shape of q ${formatShape(q.shape)}, got ${formatShape(k.shape)}.`);
  }
  checkSameLeading(fn, 'v', v, B, H, L, `q ${formatShape(q.shape)}`);
  return [B, H, L, d, dv];
}

/** The band of chunked attention: each chunk attends to itself and its neighbour chunks. @internal */
export interface ChunkBand {
  /** Positions per chunk. */
  chunkLength: number;
  /** Neighbour chunks before (wrapping around). */
  chunksBefore: number;
  /** Neighbour chunks after (wrapping around). */
  chunksAfter: number;
}

/** A {@link ChunkBand} over a sequence padded from `L` to `Lp` positions. @internal */
export interface PaddedBand extends ChunkBand {
  /** Real positions. */
  L: number;
  /** Padded length, a multiple of `chunkLength`. */
  Lp: number;
}

/**
 * The band of local attention over `L` positions: chunks of `chunkLength` with their neighbours,
 * the length padded to a multiple of `chunkLength`; a sequence of at most `chunkLength` positions is
 * one chunk attending to itself only (plain attention over all positions). @internal
 */
export function localBand(L: number, chunkLength: number, chunksBefore: number, chunksAfter: number): PaddedBand {
  if (L <= chunkLength) return { L, Lp: L, chunkLength: L, chunksBefore: 0, chunksAfter: 0 };
  return { L, Lp: Math.ceil(L / chunkLength) * chunkLength, chunkLength, chunksBefore, chunksAfter };
}

/**
 * @internal
 * Runs chunked attention over `q`, `k`, `v` padded to `Lp` (a multiple of `chunkLength`) with padded
 * positions masked, and cuts the output back to `L`: the fused kernel, or, when `dropout` is given,
 * {@link windowedAttention} (plain ops, probabilities materialised and dropped; same semantics).
 */
export function paddedChunked(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: PaddedBand & { causal: boolean; mask: Tensor | undefined; scale: number; dropout?: { rate: number; seed: number } },
): Tensor {
  const { L, Lp } = o;
  const [B, H, ,] = q.shape as [number, number, number, number];
  const dv = v.shape[3]!;
  return tidy(() => {
    const padded = Lp !== L;
    const padSeq = (t: Tensor) =>
      padded
        ? pad(
            t,
            [
              [0, 0],
              [0, 0],
              [0, Lp - L],
              [0, 0],
            ],
            0,
          )
        : t;
    let keyMask = o.mask;
    if (padded)
      keyMask = pad(
        o.mask ?? ones([B, L], 'int32'),
        [
          [0, 0],
          [0, Lp - L],
        ],
        0,
      );
    const options = {
      chunkLength: o.chunkLength,
      chunksBefore: o.chunksBefore,
      chunksAfter: o.chunksAfter,
      causal: o.causal,
      excludeSelf: false,
      scale: o.scale,
      keyMask,
    };
    const { out } =
      o.dropout === undefined
        ? chunkedAttention(padSeq(q), padSeq(k), padSeq(v), options)
        : windowedAttention(padSeq(q), padSeq(k), padSeq(v), { ...options, dropout: o.dropout });
    return padded ? slice(out, [0, 0, 0, 0], [B, H, L, dv]) : out;
  });
}
