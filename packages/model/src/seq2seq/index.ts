/**
 * The encoder–decoder Reformer: config, model, decoder layers and cached generation.
 * @module
 */
export { ENCODER_DECODER_DEFAULTS, resolveEncoderDecoderConfig, type EncoderDecoderConfig } from './config.js';
export { ReformerCrossAttention, ReformerDecoder, ReformerDecoderLayer, type DecoderLayerOptions } from './decoder.js';
export {
  ReformerEncoderDecoder,
  type EncodeOptions,
  type EncoderDecoderForwardOptions,
  type EncoderDecoderLossOptions,
} from './model.js';
export { generateSeq2Seq, type Seq2SeqGenerateOptions } from './generate.js';
export { reversalBatch, type ReversalOptions } from './reversal.js';
