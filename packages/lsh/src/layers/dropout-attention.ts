import type { Tensor } from '@reformer/core';
import { localBand, paddedChunked, type ChunkBand } from '../chunked.js';

/** Options of {@link windowedAttentionWithDropout} (a sequence no longer than `chunkLength` is one chunk attending to itself only). @internal */
export interface DropoutAttentionOptions extends ChunkBand {
  /** Keys after the query's position are not allowed. */
  causal: boolean;
  /** int32 `[B, L]` padding mask (1 = real). */
  mask?: Tensor | undefined;
  /** Logit scale. */
  scale: number;
  /** Dropout rate on the attention probabilities (0: none). */
  dropoutRate: number;
  /** Seed of the dropout mask. */
  dropoutSeed: number;
}

/**
 * Chunked (banded) attention written with plain differentiable core ops (`windowedAttention`), so that
 * the attention probabilities exist as a tensor and dropout can be applied to them — the path local and
 * full attention take in training mode with `attentionDropout > 0` (the fused kernel never materialises
 * the probabilities). Same semantics as `localAttention` (Hugging Face's local attention), at every
 * position: the sequence is padded to a multiple of `chunkLength` (padding keys masked), chunk `n`
 * attends to chunks `n − before … n + after` mod N concatenated in that order (duplicates kept),
 * not-allowed logits are replaced by −1e9, then `exp(logit − lse)` with the kernel's float32
 * logsumexp, dropout, `· v`. A sequence of at most `chunkLength` positions is plain attention over all
 * of them. Memory: `[B, H, L, (1 + before + after) · chunkLength]` logits.
 *
 * `q`, `k` `[B, H, L, d]`, `v` `[B, H, L, dv]` → `[B, H, L, dv]`.
 * @internal
 */
export function windowedAttentionWithDropout(q: Tensor, k: Tensor, v: Tensor, options: DropoutAttentionOptions): Tensor {
  const band = localBand(q.shape[2]!, options.chunkLength, options.chunksBefore, options.chunksAfter);
  return paddedChunked(q, k, v, {
    ...band,
    causal: options.causal,
    mask: options.mask,
    scale: options.scale,
    dropout: { rate: options.dropoutRate, seed: options.dropoutSeed },
  });
}
