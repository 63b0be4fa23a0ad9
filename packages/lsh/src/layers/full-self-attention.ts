import { checkInteger, type Tensor } from '@reformer/core';
import type { ChunkBand } from '../chunked.js';
import { fullAttention } from '../full-attention.js';
import { resolveAttentionConfig, type AttentionLayerConfig } from './config.js';
import { QKVSelfAttention } from './qkv-self-attention.js';

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
export class FullSelfAttention extends QKVSelfAttention {
  /** Queries per block, or undefined for dense attention. */
  readonly queryChunk: number | undefined;

  /** Creates the layer and its parameters on the current backend; throws `InvalidArgumentError` on a bad config. */
  constructor(config: FullSelfAttentionConfig) {
    const where = 'FullSelfAttention';
    const c = resolveAttentionConfig(where, config);
    const queryChunk = config.queryChunk === undefined ? undefined : checkInteger(where, 'queryChunk', config.queryChunk, 1);
    super(where, c);
    this.queryChunk = queryChunk;
  }

  /** One chunk of all `length` positions. */
  protected override band(length: number): ChunkBand {
    return { chunkLength: length, chunksBefore: 0, chunksAfter: 0 };
  }

  /** {@link fullAttention}, query-chunked when `queryChunk` is set. */
  protected override fusedAttention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | undefined): Tensor {
    return fullAttention(q, k, v, {
      causal: this.causal,
      scale: 1 / Math.sqrt(this.headSize),
      ...(mask !== undefined ? { mask } : {}),
      ...(this.queryChunk !== undefined ? { queryChunk: this.queryChunk } : {}),
    });
  }
}
