import { formatValue, isInteger } from '@reformer/core';
import { ReformerConfigError, resolveConfig, type AttentionType, type ReformerConfig } from '../config.js';

/**
 * Configuration of {@link ReformerEncoderDecoder}: every {@link ReformerConfig} field (shared by the
 * encoder and the decoder: widths, heads, chunking, dropout, position embeddings) plus the fields
 * below. `attn_layers` are the encoder's layers (bidirectional; `is_decoder` is ignored), and
 * `vocab_size` is the encoder's (source) vocabulary.
 */
export interface EncoderDecoderConfig extends ReformerConfig {
  /** Self-attention type of each decoder layer (always causal); default: the encoder's `attn_layers`. */
  decoder_attn_layers: AttentionType[];
  /** Target vocabulary size; null (default): `vocab_size`. */
  decoder_vocab_size: number | null;
  /**
   * One token table for both sides (`encoder.embeddings.word_embeddings`, as trax's `Reformer` without
   * an `output_vocab_size`); needs equal vocabularies. Default true.
   */
  share_embeddings: boolean;
  /**
   * Queries per block of the encoder–decoder attention (its logits are then bounded by
   * `cross_attn_chunk_length × source length`); 0 (default): dense.
   */
  cross_attn_chunk_length: number;
  /** The token the decoder input starts with (teacher forcing shifts the targets right by it); default `pad_token_id`, as trax. */
  decoder_start_token_id: number | null;
}

/** Defaults of the encoder–decoder fields (`decoder_attn_layers` defaults to `attn_layers`). */
export const ENCODER_DECODER_DEFAULTS = Object.freeze({
  decoder_vocab_size: null,
  share_embeddings: true,
  cross_attn_chunk_length: 0,
  decoder_start_token_id: null,
});

/**
 * Fills in the defaults ({@link resolveConfig}'s for the shared fields, then the encoder–decoder
 * ones) and validates everything, throwing one `ReformerConfigError` that lists every problem.
 * `decoder_start_token_id` comes back resolved (never null).
 */
export function resolveEncoderDecoderConfig(
  config: Partial<EncoderDecoderConfig> = {},
): EncoderDecoderConfig & { decoder_start_token_id: number } {
  const problems: string[] = [];
  let base: ReformerConfig | undefined;
  try {
    base = resolveConfig({ ...config, is_decoder: false });
  } catch (err) {
    if (!(err instanceof ReformerConfigError)) throw err;
    problems.push(...err.problems);
  }
  const defined = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
  const c = {
    ...ENCODER_DECODER_DEFAULTS,
    decoder_attn_layers: base?.attn_layers ?? [],
    ...base,
    ...defined,
    is_decoder: false,
  } as EncoderDecoderConfig;
  const show = formatValue;
  const need = (ok: boolean, field: keyof EncoderDecoderConfig, expected: string): void => {
    if (!ok) problems.push(`${field} must be ${expected}, got ${show(c[field])}`);
  };
  need(
    Array.isArray(c.decoder_attn_layers) &&
      c.decoder_attn_layers.length > 0 &&
      c.decoder_attn_layers.every((t) => t === 'lsh' || t === 'local' || t === 'full'),
    'decoder_attn_layers',
    'a non-empty list of "lsh", "local" or "full"',
  );
  need(
    c.decoder_vocab_size === null || isInteger(c.decoder_vocab_size, 1),
    'decoder_vocab_size',
    'a positive integer or null (= vocab_size)',
  );
  need(typeof c.share_embeddings === 'boolean', 'share_embeddings', 'a boolean');
  need(isInteger(c.cross_attn_chunk_length, 0), 'cross_attn_chunk_length', 'a non-negative integer (0 = dense)');
  const targetVocab = c.decoder_vocab_size ?? c.vocab_size;
  if (c.share_embeddings === true && c.decoder_vocab_size !== null && c.decoder_vocab_size !== c.vocab_size) {
    problems.push(
      `share_embeddings needs one vocabulary, but decoder_vocab_size = ${show(c.decoder_vocab_size)} differs from vocab_size = ${show(c.vocab_size)} (set share_embeddings: false)`,
    );
  }
  need(
    c.decoder_start_token_id === null ||
      (isInteger(c.decoder_start_token_id, 0) && (!isInteger(targetVocab, 1) || c.decoder_start_token_id < targetVocab)),
    'decoder_start_token_id',
    `a token id below the target vocabulary ${show(targetVocab)} (or null = pad_token_id)`,
  );
  if (problems.length > 0) throw new ReformerConfigError(problems);
  return { ...c, decoder_start_token_id: c.decoder_start_token_id ?? c.pad_token_id };
}

/** The target vocabulary size. @internal */
export function targetVocabSize(c: EncoderDecoderConfig): number {
  return c.decoder_vocab_size ?? c.vocab_size;
}

/** The {@link ReformerConfig} the decoder's layers are built from: causal, its own layer types and vocabulary. @internal */
export function decoderLayerConfig(c: EncoderDecoderConfig): ReformerConfig {
  return { ...c, is_decoder: true, attn_layers: c.decoder_attn_layers, vocab_size: targetVocabSize(c) };
}
