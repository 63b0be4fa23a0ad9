/**
 * Local (chunked, unhashed) attention (docs/attention-semantics.md §5) on the fused chunked-attention
 * kernel of the core Backend contract, forward and backward.
 *
 * @module
 */
import { div, scalar, tidy, type Tensor, checkPaddingMask } from '@reformer/core';
import { checkQKV, localBand, paddedChunked } from './chunked.js';
import { checkChunkLogits, checkChunking } from './validate.js';

/** Options of {@link localAttention}. */
export interface LocalAttentionOptions {
  /** Positions per chunk (Hugging Face `local_attn_chunk_length`), integer >= 1. */
  chunkLength: number;
  /** Neighbour chunks before each chunk in its window (default 1). */
  chunksBefore?: number;
  /** Neighbour chunks after each chunk in its window (default 0). */
  chunksAfter?: number;
  /** Mask keys at later positions than the query (default false). */
  causal?: boolean;
  /** Padding mask, int32 `[batch, length]`: 1 = real token, 0 = padding (never attended). */
  mask?: Tensor;
}

/**
 * Local attention, as Hugging Face's `LocalSelfAttention` core (docs/attention-semantics.md §5): the
 * sequence is cut into chunks of `chunkLength` positions and chunk n attends to chunks
 * `n − chunksBefore … n + chunksAfter` (circularly, in that order; a chunk occurring twice is
 * attended twice), with
 * logits `q · k/√dHead` — the keys are divided by √dHead INSIDE this function, as Hugging Face divides
 * its key projection — replaced by −1e9 where not allowed (causal: key after query; padding mask).
 * No self mask. `length <= chunkLength`: plain attention over all positions. Other lengths are padded
 * internally to a multiple of `chunkLength` (padding masked) and cut back.
 *
 * @param q - float32 `[batch, heads, length, dHead]`.
 * @param k - float32 `[batch, heads, length, dHead]` (not yet scaled).
 * @param v - float32 `[batch, heads, length, dv]`.
 * @param options - chunking, causality and padding mask.
 * @returns float32 `[batch, heads, length, dv]`, differentiable in q, k, v.
 * @throws {InvalidArgumentError} for `chunkLength` < 1, negative neighbour counts, or a `mask` value other than 0 and 1.
 * @throws {AllocationTooLargeError} (from `@reformer/core`) when one chunk of logits `[chunkLength, window]`
 *   would exceed the backend's `maxAllocationBytes`.
 * @throws {ShapeMismatchError} if the shapes disagree or `mask` is not `[batch, length]`.
 * @throws {DTypeError} if q, k, v are not float32 or `mask` is not int32.
 */
export function localAttention(q: Tensor, k: Tensor, v: Tensor, options: LocalAttentionOptions): Tensor {
  const fn = 'localAttention';
  const [B, , L, d] = checkQKV(fn, q, k, v);
  const { chunkLength, chunksBefore, chunksAfter } = checkChunking(
    fn,
    options.chunkLength,
    options.chunksBefore ?? 1,
    options.chunksAfter ?? 0,
  );
  checkPaddingMask(fn, options.mask, B, L);
  const band = localBand(L, chunkLength, chunksBefore, chunksAfter);
  checkChunkLogits(
    fn,
    band.chunkLength,
    band.chunkLength * (band.chunksBefore + 1 + band.chunksAfter),
    `Use fewer neighbour chunks (chunksBefore ${chunksBefore}, chunksAfter ${chunksAfter}) or a smaller chunkLength (${chunkLength})`,
    q.backend,
  );
  const causal = options.causal ?? false;
  return tidy(() => {
    const kScaled = div(k, scalar(Math.sqrt(d)));
    return paddedChunked(q, kScaled, v, { ...band, causal, mask: options.mask, scale: 1 });
  });
}
