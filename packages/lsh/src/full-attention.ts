/**
 * Full (dense or query-chunked) attention on the fused chunked-attention kernel of the core Backend
 * contract, forward and backward.
 *
 * @module
 */
import { InvalidArgumentError, maxAllocationBytes, type Tensor, checkInteger, checkPaddingMask } from '@reformer/core';
import { checkQKV, paddedChunked } from './chunked.js';
import { checkChunkLogits } from './validate.js';

/** Options of {@link fullAttention}. */
export interface FullAttentionOptions {
  /** Mask keys at later positions than the query (default false). */
  causal?: boolean;
  /** Padding mask, int32 `[batch, length]`: 1 = real token, 0 = padding (never attended). */
  mask?: Tensor;
  /**
   * Queries per chunk, to bound memory on backends that materialise a chunk pair of logits: the
   * sequence is padded to a multiple of `queryChunk` and every query chunk attends to every key chunk
   * exactly once (chunk length `queryChunk`, `nChunks − 1` chunks before with wrap-around). Omitted, or
   * >= length: one dense chunk.
   */
  queryChunk?: number;
  /** Logit scale (default `1/√dHead`). */
  scale?: number;
}

/**
 * Full (dense) softmax attention `softmax(scale · q kᵀ) v` with optional causal and padding masks
 * (masked logits replaced by −1e9), on the fused chunked kernel: one chunk covering the sequence, or
 * with `queryChunk` chunks of that many queries that each attend to every key chunk exactly once
 * (`chunksBefore = nChunks − 1` with wrap-around), after padding the length to a multiple of
 * `queryChunk` (padding masked).
 *
 * @param q - float32 `[batch, heads, length, dHead]`.
 * @param k - float32 `[batch, heads, length, dHead]`.
 * @param v - float32 `[batch, heads, length, dv]`.
 * @param options - causality, padding mask, query chunking, logit scale.
 * @returns float32 `[batch, heads, length, dv]`, differentiable in q, k, v.
 * @throws {InvalidArgumentError} for `queryChunk` < 1 or a non-finite `scale`, or a `mask` value other than 0 and 1.
 * @throws {AllocationTooLargeError} (from `@reformer/core`) when one chunk of logits, `[queryChunk, length]`
 *   (`[length, length]` without `queryChunk`), would exceed the backend's `maxAllocationBytes`; the
 *   message gives the bytes and the largest `queryChunk` that fits.
 * @throws {ShapeMismatchError} if the shapes disagree or `mask` is not `[batch, length]`.
 * @throws {DTypeError} if q, k, v are not float32 or `mask` is not int32.
 */
export function fullAttention(q: Tensor, k: Tensor, v: Tensor, options: FullAttentionOptions = {}): Tensor {
  const fn = 'fullAttention';
  const [B, , L, d] = checkQKV(fn, q, k, v);
  checkPaddingMask(fn, options.mask, B, L);
  const scale = options.scale ?? 1 / Math.sqrt(d);
  if (typeof scale !== 'number' || !Number.isFinite(scale)) {
    throw new InvalidArgumentError(`${fn}: scale must be a finite number (default 1/√dHead = ${1 / Math.sqrt(d)}), got ${String(scale)}.`);
  }
  const causal = options.causal ?? false;
  const qc = options.queryChunk === undefined ? L : checkInteger(fn, 'queryChunk', options.queryChunk, 1);
  // One chunk of logits is [queryChunk, padded length]: check it before anything is allocated.
  const keys = qc >= L ? L : Math.ceil(L / qc) * qc;
  const fits = Math.floor(maxAllocationBytes(q.backend) / (4 * keys));
  checkChunkLogits(
    fn,
    Math.min(qc, L),
    keys,
    fits >= 1
      ? `Pass queryChunk ≤ ${fits} (a chunk of logits is queryChunk × length × 4 bytes)`
      : `Even one query's logits over ${keys} keys exceed the bound: use LSH or local attention for this length`,
    q.backend,
  );
  if (qc >= L) {
    return paddedChunked(q, k, v, { L, Lp: L, chunkLength: L, chunksBefore: 0, chunksAfter: 0, causal, mask: options.mask, scale });
  }
  const Lp = Math.ceil(L / qc) * qc;
  return paddedChunked(q, k, v, { L, Lp, chunkLength: qc, chunksBefore: Lp / qc - 1, chunksAfter: 0, causal, mask: options.mask, scale });
}
