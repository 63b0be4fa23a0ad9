/**
 * Shared plumbing of local and full attention: input checks, and the fused chunked kernel over a
 * sequence padded to a multiple of the chunk length (padding masked, output cut back).
 *
 * @module
 */
import { ShapeMismatchError, chunkedAttention, ones, pad, slice, tidy, type Tensor } from '@reformer/core';
import { checkAttentionTensor, checkSameLeading, fmt } from './validate.js';

/** Checks q, k, v of a separate-key attention and returns [B, H, L, d, dv]. @internal */
export function checkQKV(fn: string, q: Tensor, k: Tensor, v: Tensor): [number, number, number, number, number] {
  const [B, H, L, d] = checkAttentionTensor(fn, 'q', q);
  checkAttentionTensor(fn, 'k', k);
  const dv = checkAttentionTensor(fn, 'v', v)[3];
  if (k.shape.some((x, i) => x !== q.shape[i])) {
    throw new ShapeMismatchError(`${fn}: k must have the shape of q ${fmt(q.shape)}, got ${fmt(k.shape)}.`);
  }
  checkSameLeading(fn, 'v', v, B, H, L, `q ${fmt(q.shape)}`);
  return [B, H, L, d, dv];
}

/**
 * @internal
 * Runs the fused kernel over `q`, `k`, `v` padded to `Lp` (a multiple of `chunkLength`) with padded
 * positions masked, and cuts the output back to `L`.
 */
export function paddedChunked(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: { L: number; Lp: number; chunkLength: number; chunksBefore: number; chunksAfter: number; causal: boolean; mask: Tensor | undefined; scale: number },
): Tensor {
  const { L, Lp } = o;
  const [B, H, , ] = q.shape as [number, number, number, number];
  const dv = v.shape[3]!;
  return tidy(() => {
    const padded = Lp !== L;
    const padSeq = (t: Tensor) => (padded ? pad(t, [[0, 0], [0, 0], [0, Lp - L], [0, 0]], 0) : t);
    let keyMask = o.mask;
    if (padded) keyMask = pad(o.mask ?? ones([B, L], 'int32'), [[0, 0], [0, Lp - L]], 0);
    const { out } = chunkedAttention(padSeq(q), padSeq(k), padSeq(v), {
      chunkLength: o.chunkLength,
      chunksBefore: o.chunksBefore,
      chunksAfter: o.chunksAfter,
      causal: o.causal,
      excludeSelf: false,
      scale: o.scale,
      keyMask,
    });
    return padded ? slice(out, [0, 0, 0, 0], [B, H, L, dv]) : out;
  });
}
