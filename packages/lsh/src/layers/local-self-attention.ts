import type { Tensor } from '@reformer/core';
import type { ChunkBand } from '../chunked.js';
import { localAttention } from '../local-attention.js';
import { resolveAttentionConfig, type AttentionLayerConfig } from './config.js';
import { QKVSelfAttention } from './qkv-self-attention.js';

/** Configuration of {@link LocalSelfAttention} (the common options; `chunkLength` is `local_attn_chunk_length`). */
export type LocalSelfAttentionConfig = AttentionLayerConfig;

/**
 * Local (chunked) self-attention with Hugging Face `LocalSelfAttention` semantics and parameter names:
 * separate `query`, `key`, `value` projections (no bias); keys scaled by `1/√headSize`; the sequence is
 * cut into chunks of `chunkLength` positions and each chunk attends to itself and `chunksBefore` /
 * `chunksAfter` neighbour chunks, wrapping around (so with `chunksAfter ≥ 1` and no causal mask the last
 * chunk sees the first); no self-exclusion; causal and padding masks. A sequence of at most
 * `chunkLength` positions is plain attention over all positions. Any length works (padded and masked
 * internally).
 *
 * `namedParameters()`: `self_attention.query.weight`, `self_attention.key.weight`,
 * `self_attention.value.weight` `[numHeads·headSize, hiddenSize]`, `output.dense.weight`
 * `[hiddenSize, numHeads·headSize]` — Hugging Face's names below `…attention.`.
 *
 * Attention dropout (`attentionDropout > 0`, training mode) is supported: that path computes the
 * banded attention with plain core ops (memory `O(length · window)` instead of the fused kernel's one
 * chunk pair) and draws its mask seed with `nextSeed()` before the output dropout does, so a call
 * replays under the same `seedScope`. Evaluation mode, or rate 0, uses the fused kernel.
 */
export class LocalSelfAttention extends QKVSelfAttention {
  /** Positions per chunk. */
  readonly chunkLength: number;
  /** Neighbour chunks before. */
  readonly chunksBefore: number;
  /** Neighbour chunks after. */
  readonly chunksAfter: number;

  /** Creates the layer and its parameters on the current backend; throws `InvalidArgumentError` on a bad config. */
  constructor(config: LocalSelfAttentionConfig) {
    const where = 'LocalSelfAttention';
    const c = resolveAttentionConfig(where, config);
    super(where, c);
    this.chunkLength = c.chunkLength;
    this.chunksBefore = c.chunksBefore;
    this.chunksAfter = c.chunksAfter;
  }

  /** `chunkLength` positions per chunk with `chunksBefore` / `chunksAfter` neighbour chunks, at any length. */
  protected override band(): ChunkBand {
    return { chunkLength: this.chunkLength, chunksBefore: this.chunksBefore, chunksAfter: this.chunksAfter };
  }

  /** {@link localAttention} over the layer's band (it scales the keys by `1/√headSize` itself). */
  protected override fusedAttention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | undefined): Tensor {
    return localAttention(q, k, v, { ...this.band(), causal: this.causal, ...(mask !== undefined ? { mask } : {}) });
  }
}
