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
  ReformerForSequenceClassification,
  ReformerForQuestionAnswering,
  ReformerClassificationHead,
  sequenceClassificationLoss,
  spanLoss,
  binaryCrossEntropyWithLogits,
  inferProblemType,
  type HeadConfig,
  type ProblemType,
  type ClassificationLossOptions,
  type SpanLossOptions,
  type SpanLogits,
} from './heads/index.js';
export {
  CheckpointError,
  architectureOf,
  configJson,
  expectArchitecture,
  loadModel,
  serializeModel,
  type AnyReformerModel,
  type CheckpointFiles,
  type ReformerArchitecture,
} from './checkpoint.js';
export {
  train,
  TrainError,
  checkBatch,
  batchTokens,
  type TrainBatch,
  type TrainOptions,
  type TrainProgress,
  type TrainResult,
  type TrainState,
  type TrainCheckpoint,
  type ResumePoint,
} from './train/index.js';
export {
  duplicationTask,
  charLMTask,
  scoreCausalLM,
  type Task,
  type Metrics,
  type EvaluateOptions,
  type LanguageModel,
  type CausalScores,
  type DuplicationOptions,
  type DuplicationTask,
  type CharLMOptions,
  type CharLMTask,
} from './tasks/index.js';
export { generate, type GenerateOptions } from './generate/generate.js';
export { sampleToken, type SamplingOptions } from './generate/sampling.js';
export {
  ENCODER_DECODER_DEFAULTS,
  ReformerCrossAttention,
  ReformerDecoder,
  ReformerDecoderLayer,
  ReformerEncoderDecoder,
  resolveEncoderDecoderConfig,
  type DecoderLayerOptions,
  type EncodeOptions,
  type EncoderDecoderConfig,
  type EncoderDecoderForwardOptions,
  type EncoderDecoderLossOptions,
  generateSeq2Seq,
  reversalBatch,
  type ReversalOptions,
  type Seq2SeqGenerateOptions,
} from './seq2seq/index.js';
export { ByteTokenizer, SentencePieceTokenizer, TokenizerError, type ByteTokenizerOptions, type Tokenizer } from './tokenizers/index.js';
export { generateText, streamText, type GenerateTextOptions } from './generate/text.js';
export { createReformerLM, reformerLMConfig, type ReformerLMOptions } from './reformer-lm.js';
export {
  fromPretrained,
  type FromPretrainedOptions,
  type PretrainedFileData,
  type PretrainedProgress,
  type PretrainedSource,
} from './pretrained.js';
export { MissingWeightsError, ShardIndexError, WEIGHTS_FILE_NAMES, parseShardIndex, type WeightsFileName } from './weights-names.js';
