/**
 * Full (dense or query-chunked) attention on the fused chunked-attention kernel of the core Backend
 * contract, forward and backward.
 *
 * @module
 */
import { InvalidArgumentError, type Tensor } from '@reformer/core';
import { checkQKV, paddedChunked } from './chunked.js';
import { checkInteger, checkMask } from './validate.js';

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
 * @throws {InvalidArgumentError} for `queryChunk` < 1 or a non-finite `scale`.
 * @throws {ShapeMismatchError} if the shapes disagree or `mask` is not `[batch, length]`.
 * @throws {DTypeError} if q, k, v are not float32 or `mask` is not int32.
 */
export function fullAttention(q: Tensor, k: Tensor, v: Tensor, options: FullAttentionOptions = {}): Tensor {
  const fn = 'fullAttention';
  const [B, , L, d] = checkQKV(fn, q, k, v);
  checkMask(fn, options.mask, B, L);
  const scale = options.scale ?? 1 / Math.sqrt(d);
  if (typeof scale !== 'number' || !Number.isFinite(scale)) {
    throw new InvalidArgumentError(`${fn}: scale must be a finite number (default 1/√dHead = ${1 / Math.sqrt(d)}), got ${String(scale)}.`);
  }
  const causal = options.causal ?? false;
  const qc = options.queryChunk === undefined ? L : checkInteger(fn, 'queryChunk', options.queryChunk, 1);
  if (qc >= L) {
    return paddedChunked(q, k, v, { L, Lp: L, chunkLength: L, chunksBefore: 0, chunksAfter: 0, causal, mask: options.mask, scale });
  }
  const Lp = Math.ceil(L / qc) * qc;
  return paddedChunked(q, k, v, { L, Lp, chunkLength: qc, chunksBefore: Lp / qc - 1, chunksAfter: 0, causal, mask: options.mask, scale });
}
