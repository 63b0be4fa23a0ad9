import { Module, nextSeed, tidy, type Tensor } from '@reformer/core';
import { localAttention } from '../local-attention.js';
import {
  checkHidden,
  checkMask,
  resolveAttentionConfig,
  type AttentionForwardOptions,
  type AttentionLayer,
  type AttentionLayerConfig,
} from './config.js';
import { windowedAttentionWithDropout } from './dropout-attention.js';
import { AttentionOutput, QKVProjection, mergeHeads, projectionSeed, splitHeads } from './modules.js';

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
export class LocalSelfAttention extends Module implements AttentionLayer {
  /** Size of the hidden states' last axis. */
  readonly hiddenSize: number;
  /** Number of heads. */
  readonly numHeads: number;
  /** Size of each head. */
  readonly headSize: number;
  /** Causal attention. */
  readonly causal: boolean;
  /** Positions per chunk. */
  readonly chunkLength: number;
  /** Neighbour chunks before. */
  readonly chunksBefore: number;
  /** Neighbour chunks after. */
  readonly chunksAfter: number;
  /** Attention-probability dropout rate. */
  readonly attentionDropout: number;
  /** The projections: `query`, `key`, `value`. */
  readonly self_attention: QKVProjection;
  /** Output projection `dense` and output dropout. */
  readonly output: AttentionOutput;

  /** Creates the layer and its parameters on the current backend; throws `InvalidArgumentError` on a bad config. */
  constructor(config: LocalSelfAttentionConfig) {
    super();
    const c = resolveAttentionConfig('LocalSelfAttention', config);
    this.hiddenSize = c.hiddenSize;
    this.numHeads = c.numHeads;
    this.headSize = c.headSize;
    this.causal = c.causal;
    this.chunkLength = c.chunkLength;
    this.chunksBefore = c.chunksBefore;
    this.chunksAfter = c.chunksAfter;
    this.attentionDropout = c.attentionDropout;
    const allHeadSize = c.numHeads * c.headSize;
    this.self_attention = this.addModule(
      'self_attention',
      new QKVProjection({ hiddenSize: c.hiddenSize, allHeadSize, initStd: c.initStd, seed: projectionSeed(c.seed, 0) }),
    );
    this.output = this.addModule(
      'output',
      new AttentionOutput({ hiddenSize: c.hiddenSize, allHeadSize, initStd: c.initStd, seed: projectionSeed(c.seed, 1), dropout: c.outputDropout }),
    );
  }

  /** `hidden` `[batch, length, hiddenSize]` → `dropout(output.dense(attend(hidden, options)))`. `nHashes` is ignored. */
  forward(hidden: Tensor, options: AttentionForwardOptions = {}): Tensor {
    return tidy(() => this.output.forward(this.attend(hidden, options)));
  }

  /**
   * The attention output before `output.dense`, merged heads `[batch, length, numHeads·headSize]`.
   * Throws `ShapeMismatchError` / `DTypeError` for hidden states or a mask of the wrong shape or dtype.
   */
  attend(hidden: Tensor, options: AttentionForwardOptions = {}): Tensor {
    const where = 'LocalSelfAttention.forward';
    const [batch, length] = checkHidden(where, hidden, this.hiddenSize);
    checkMask(where, options.mask, batch, length);
    const dropoutRate = this.training ? this.attentionDropout : 0;
    const dropoutSeed = dropoutRate > 0 ? nextSeed() : 0;
    return tidy(() => {
      const { query, key, value } = this.self_attention;
      const q = splitHeads(query.forward(hidden), this.numHeads, this.headSize);
      const k = splitHeads(key.forward(hidden), this.numHeads, this.headSize);
      const v = splitHeads(value.forward(hidden), this.numHeads, this.headSize);
      const out =
        dropoutRate > 0
          ? windowedAttentionWithDropout(q, k, v, {
              chunkLength: this.chunkLength,
              chunksBefore: this.chunksBefore,
              chunksAfter: this.chunksAfter,
              causal: this.causal,
              mask: options.mask,
              scale: 1 / Math.sqrt(this.headSize),
              dropoutRate,
              dropoutSeed,
            })
          : localAttention(q, k, v, {
              chunkLength: this.chunkLength,
              chunksBefore: this.chunksBefore,
              chunksAfter: this.chunksAfter,
              causal: this.causal,
              ...(options.mask !== undefined ? { mask: options.mask } : {}),
            });
      return mergeHeads(out);
    });
  }
}
