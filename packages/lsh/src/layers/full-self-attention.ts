import { Module, nextSeed, tidy, type Tensor } from '@reformer/core';
import { fullAttention } from '../full-attention.js';
import {
  checkHidden,
  checkInt,
  checkMask,
  resolveAttentionConfig,
  type AttentionForwardOptions,
  type AttentionLayer,
  type AttentionLayerConfig,
} from './config.js';
import { windowedAttentionWithDropout } from './dropout-attention.js';
import { AttentionOutput, QKVProjection, mergeHeads, projectionSeed, splitHeads } from './modules.js';

/** Configuration of {@link FullSelfAttention}: the common options (chunk options ignored) plus `queryChunk`. */
export interface FullSelfAttentionConfig extends AttentionLayerConfig {
  /**
   * Process the queries this many at a time (each block attends to every key), so that at most
   * `queryChunk × length` logits exist at once instead of `length²`. Same result; default: dense.
   */
  queryChunk?: number;
}

/**
 * Full (quadratic) self-attention behind the same interface and parameter names as
 * {@link LocalSelfAttention}: `query`, `key`, `value` projections (no bias), logits `q·k/√headSize`,
 * causal and padding masks (−1e9), softmax over every position, merged heads, `output.dense`, output
 * dropout. `chunkLength`, `chunksBefore` and `chunksAfter` are accepted (so one config object serves
 * every layer) and ignored; `queryChunk` bounds the memory of the logits.
 *
 * `namedParameters()`: `self_attention.query.weight`, `self_attention.key.weight`,
 * `self_attention.value.weight`, `output.dense.weight`, as {@link LocalSelfAttention} — a local
 * layer's state dict loads into a full one and back.
 *
 * Attention dropout (`attentionDropout > 0`, training mode) is supported through a path that
 * materialises the `[batch, heads, length, length]` probabilities with plain core ops (its mask seed is
 * drawn with `nextSeed()`, replayable under `seedScope`); evaluation mode, or rate 0, uses the fused /
 * query-chunked kernel.
 */
export class FullSelfAttention extends Module implements AttentionLayer {
  /** Size of the hidden states' last axis. */
  readonly hiddenSize: number;
  /** Number of heads. */
  readonly numHeads: number;
  /** Size of each head. */
  readonly headSize: number;
  /** Causal attention. */
  readonly causal: boolean;
  /** Queries per block, or undefined for dense attention. */
  readonly queryChunk: number | undefined;
  /** Attention-probability dropout rate. */
  readonly attentionDropout: number;
  /** The projections: `query`, `key`, `value`. */
  readonly self_attention: QKVProjection;
  /** Output projection `dense` and output dropout. */
  readonly output: AttentionOutput;

  /** Creates the layer and its parameters on the current backend; throws `InvalidArgumentError` on a bad config. */
  constructor(config: FullSelfAttentionConfig) {
    super();
    const where = 'FullSelfAttention';
    const c = resolveAttentionConfig(where, config);
    this.hiddenSize = c.hiddenSize;
    this.numHeads = c.numHeads;
    this.headSize = c.headSize;
    this.causal = c.causal;
    this.attentionDropout = c.attentionDropout;
    this.queryChunk = config.queryChunk === undefined ? undefined : checkInt(where, 'queryChunk', config.queryChunk, 1);
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
    const where = 'FullSelfAttention.forward';
    const [batch, length] = checkHidden(where, hidden, this.hiddenSize);
    checkMask(where, options.mask, batch, length);
    const dropoutRate = this.training ? this.attentionDropout : 0;
    const dropoutSeed = dropoutRate > 0 ? nextSeed() : 0;
    const scale = 1 / Math.sqrt(this.headSize);
    return tidy(() => {
      const { query, key, value } = this.self_attention;
      const q = splitHeads(query.forward(hidden), this.numHeads, this.headSize);
      const k = splitHeads(key.forward(hidden), this.numHeads, this.headSize);
      const v = splitHeads(value.forward(hidden), this.numHeads, this.headSize);
      const out =
        dropoutRate > 0
          ? windowedAttentionWithDropout(q, k, v, {
              chunkLength: length,
              chunksBefore: 0,
              chunksAfter: 0,
              causal: this.causal,
              mask: options.mask,
              scale,
              dropoutRate,
              dropoutSeed,
            })
          : fullAttention(q, k, v, {
              causal: this.causal,
              scale,
              ...(options.mask !== undefined ? { mask: options.mask } : {}),
              ...(this.queryChunk !== undefined ? { queryChunk: this.queryChunk } : {}),
            });
      return mergeHeads(out);
    });
  }
}
