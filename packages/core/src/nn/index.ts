/**
 * Neural-network basics: the {@link Module} tree (named parameters, state dicts, train/eval),
 * {@link ModuleList}, and the layers {@link Linear}, {@link LayerNorm}, {@link Embedding} and
 * {@link Dropout}.
 * @module
 */
export { Module, ModuleList } from './module.js';
export {
  StateDictError,
  type HostTensorLike,
  type StateDictValue,
  type LoadStateDictOptions,
  type LoadStateDictResult,
  type StateDictMismatch,
} from './state-dict.js';
export { initNormal, initUniform, withoutInit, type WeightInit } from './init.js';
export { Linear, type LinearOptions } from './linear.js';
export { LayerNorm, type LayerNormOptions } from './layer-norm.js';
export { Embedding, type EmbeddingOptions } from './embedding.js';
export { Dropout, type DropoutOptions } from './dropout.js';
