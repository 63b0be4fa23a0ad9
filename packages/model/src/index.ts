/**
 * `@reformer/model` — the Reformer language model (Kitaev, Kaiser, Levskaya, ICLR 2020) in
 * TypeScript: Hugging Face-compatible config and parameter names, axial position embeddings, a
 * reversible stack of LSH / local / full attention layers with chunked feed-forward, a chunked LM head,
 * training, cached generation and checkpoints.
 * @packageDocumentation
 */
export { DEFAULT_CONFIG, ReformerConfigError, resolveConfig, maxLength, type AttentionType, type ReformerConfig } from './config.js';
export { AxialPositionEmbeddings, AxialWeights, PositionEmbeddings, ReformerEmbeddings } from './embeddings.js';
export { ReformerAttention, createReformerLayer, type ReformerLayerOptions } from './layer.js';
export {
  ReformerEncoder,
  ReformerModel,
  ReformerLM,
  ReformerModelWithLMHead,
  ReformerForMaskedLM,
  type ModelOptions,
  type ForwardOptions,
  type LossOptions,
} from './model.js';
export { IGNORE_INDEX, ignorePadding } from './labels.js';
export {
  CheckpointError,
  architectureOf,
  configJson,
  loadModel,
  serializeModel,
  type AnyReformerModel,
  type CheckpointFiles,
  type ReformerArchitecture,
} from './checkpoint.js';
