import { nextSeed, tidy, type Tensor } from '@reformer/core';
import type { ChunkBand } from '../chunked.js';
import { AttentionLayerBase } from './attention-layer-base.js';
import type { AttentionForwardOptions, ResolvedAttentionConfig } from './config.js';
import { windowedAttentionWithDropout } from './dropout-attention.js';
import { QKVProjection, mergeHeads, projectHeads } from './modules.js';

/**
 * An attention layer with separate `query`, `key` and `value` projections (local and full attention):
 * `attend` projects and splits the heads, attends them — with the fused kernel of the subclass, or, in
 * training mode with `attentionDropout > 0`, with plain core ops over the subclass's band, drawing the
 * dropout mask's seed with `nextSeed()` before the output dropout does (so a call replays under the same
 * `seedScope`) — and merges the heads.
 */
export abstract class QKVSelfAttention extends AttentionLayerBase<QKVProjection> {
  /** Creates the `query`, `key`, `value` projections and the output block; see {@link AttentionLayerBase}. */
  protected constructor(name: string, c: ResolvedAttentionConfig) {
    super(name, c, QKVProjection);
  }

  /**
   * The attention output before `output.dense`, merged heads `[batch, length, numHeads·headSize]`.
   * Throws `ShapeMismatchError` / `DTypeError` for hidden states or a mask of the wrong shape or dtype.
   */
  override attend(hidden: Tensor, options: AttentionForwardOptions = {}): Tensor {
    const [, length] = this.checkInputs(hidden, options.mask);
    const dropoutRate = this.training ? this.attentionDropout : 0;
    const dropoutSeed = dropoutRate > 0 ? nextSeed() : 0;
    return tidy(() => {
      const { query, key, value } = this.self_attention;
      const q = projectHeads(query, hidden, this.numHeads, this.headSize);
      const k = projectHeads(key, hidden, this.numHeads, this.headSize);
      const v = projectHeads(value, hidden, this.numHeads, this.headSize);
      const out =
        dropoutRate > 0
          ? windowedAttentionWithDropout(q, k, v, {
              ...this.band(length),
              causal: this.causal,
              mask: options.mask,
              scale: 1 / Math.sqrt(this.headSize),
              dropoutRate,
              dropoutSeed,
            })
          : this.fusedAttention(q, k, v, options.mask);
      return mergeHeads(out);
    });
  }

  /** The band of chunks the layer attends over at `length` positions (what the attention-dropout path computes). */
  protected abstract band(length: number): ChunkBand;

  /**
   * Attends the split heads `q`, `k`, `v` `[batch, numHeads, length, headSize]` with the fused kernel
   * (evaluation mode, or no attention dropout), logits scaled by `1/√headSize`; returns
   * `[batch, numHeads, length, headSize]`.
   */
  protected abstract fusedAttention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | undefined): Tensor;
}
