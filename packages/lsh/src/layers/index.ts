/**
 * Attention layers: {@link LSHSelfAttention}, {@link LocalSelfAttention} and {@link FullSelfAttention},
 * core `Module`s behind one {@link AttentionLayer} interface, with Hugging Face's parameter names.
 * @module
 */
export {
  ATTENTION_DEFAULTS,
  type AttentionForwardOptions,
  type AttentionLayer,
  type AttentionLayerConfig,
} from './config.js';
export { AttentionOutput, QKVProjection, SharedQKProjection, type AttentionOutputOptions, type ProjectionOptions } from './modules.js';
export { LSHSelfAttention, type LSHSelfAttentionConfig, type LSHForwardOptions } from './lsh-self-attention.js';
export { LocalSelfAttention, type LocalSelfAttentionConfig } from './local-self-attention.js';
export { FullSelfAttention, type FullSelfAttentionConfig } from './full-self-attention.js';
export {
  CrossAttention,
  crossAttention,
  type CrossAttentionConfig,
  type CrossAttentionFnOptions,
  type CrossAttentionOptions,
  type ProjectedContext,
} from './cross-attention.js';
