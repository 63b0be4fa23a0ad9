import { isInteger } from '@reformer/core';
import { chooseNumBuckets } from '@reformer/lsh';
import { ReformerConfigError, resolveConfig, type AttentionType, type ReformerConfig } from './config.js';
import { ReformerForMaskedLM, ReformerModelWithLMHead, type ModelOptions } from './model.js';

/**
 * A Reformer language model described by what it is, in the spirit of `reformer-pytorch`'s
 * `ReformerLM(num_tokens, dim, depth, max_seq_len, …)`. {@link reformerLMConfig} maps it to a full
 * Hugging Face `ReformerConfig` (so `saveModel` still writes Hugging Face's `config.json`).
 */
export interface ReformerLMOptions {
  /** Vocabulary size (`vocab_size`). */
  vocabSize: number;
  /** Longest sequence the model takes, prompt and generated tokens together; any length ≥ 1. */
  maxSeqLen: number;
  /** Model width (`hidden_size`). Default 256. */
  dim?: number;
  /** Number of layers. Default 6. */
  depth?: number;
  /** Attention heads per layer (`num_attention_heads`). Default 8. */
  heads?: number;
  /** Width of each head (`attention_head_size`). Default `dim / heads` (which must then be an integer). */
  dimHead?: number;
  /**
   * Attention of each layer: one type for all, or a pattern repeated over the depth (e.g.
   * `['local', 'lsh']`). Default `'lsh'`.
   */
  attention?: AttentionType | readonly AttentionType[];
  /** Chunk length of LSH and local attention (`lsh_attn_chunk_length`, `local_attn_chunk_length`). Default 64. */
  bucketSize?: number;
  /** Hash rounds of LSH attention (`num_hashes`). Default 4. */
  nHashes?: number;
  /** Causal LM (`ReformerModelWithLMHead`, default) or masked LM (`ReformerForMaskedLM`). */
  causal?: boolean;
  /** Feed-forward width as a multiple of `dim` (`feed_forward_size = ffMult · dim`). Default 4. */
  ffMult?: number;
  /** Dropout of the hidden states and of local attention (`hidden_dropout_prob`, `local_attention_probs_dropout_prob`). Default 0.05. */
  dropout?: number;
  /** Feed-forward activation (`hidden_act`). Default `'gelu'`. */
  activation?: 'gelu' | 'relu';
  /** Positions per feed-forward chunk (`chunk_size_feed_forward`; 0 = unchunked). Default 0. */
  ffChunkSize?: number;
}

const positiveInt = (v: unknown): v is number => isInteger(v, 1);

/**
 * The Hugging Face `ReformerConfig` of {@link ReformerLMOptions}: layers from `attention` repeated to
 * `depth`; axial position embeddings over a grid `[A0, A1]` with `A1` the power of two nearest above
 * √maxSeqLen and `A0 · A1 ≥ maxSeqLen`, split `[dim/4, 3·dim/4]`; a fixed `num_buckets` chosen from
 * `maxSeqLen` (rounded up to a multiple of `bucketSize`) by Hugging Face's rule, so that training and
 * generation use one bucket count at every length; no chunks after (causal-safe); `eos_token_id` null
 * (your tokenizer's end token is passed to `generate`). Throws `ReformerConfigError` listing every
 * problem.
 */
export function reformerLMConfig(options: ReformerLMOptions): ReformerConfig {
  if (options === null || typeof options !== 'object')
    throw new ReformerConfigError([`options must be an object with vocabSize and maxSeqLen, got ${String(options)}`]);
  const { vocabSize, maxSeqLen, dim = 256, depth = 6, heads = 8, bucketSize = 64, nHashes = 4, ffMult = 4 } = options;
  const problems: string[] = [];
  const need = (ok: boolean, name: string, value: unknown, expected: string) => {
    if (!ok) problems.push(`${name} must be ${expected}, got ${JSON.stringify(value) ?? String(value)}`);
  };
  for (const [name, value] of Object.entries({ vocabSize, maxSeqLen, dim, depth, heads, bucketSize, nHashes, ffMult })) {
    need(positiveInt(value), name, value, 'a positive integer');
  }
  const dimHead = options.dimHead ?? dim / heads;
  need(positiveInt(dimHead), options.dimHead === undefined ? 'dim / heads' : 'dimHead', dimHead, 'a positive integer (or give dimHead)');
  need(positiveInt(dim) && dim >= 2, 'dim', dim, 'at least 2 (the axial embeddings split it in two)');
  const pattern =
    typeof options.attention === 'string' || options.attention === undefined ? [options.attention ?? 'lsh'] : [...options.attention];
  need(
    pattern.length > 0 && pattern.every((t) => t === 'lsh' || t === 'local' || t === 'full'),
    'attention',
    options.attention,
    "'lsh', 'local', 'full' or a non-empty list of them",
  );
  if (problems.length > 0) throw new ReformerConfigError(problems);

  const attnLayers = Array.from({ length: depth }, (_, i) => pattern[i % pattern.length]!);
  const a1 = 2 ** Math.ceil(Math.log2(Math.sqrt(maxSeqLen)));
  const a0 = Math.ceil(maxSeqLen / a1);
  const d0 = Math.max(1, Math.floor(dim / 4));
  const padded = Math.ceil(maxSeqLen / bucketSize) * bucketSize;
  const maxPositions = a0 * a1;
  const dropout = options.dropout ?? 0.05;
  return resolveConfig({
    attn_layers: attnLayers,
    vocab_size: vocabSize,
    hidden_size: dim,
    num_attention_heads: heads,
    attention_head_size: dimHead,
    feed_forward_size: ffMult * dim,
    hidden_act: options.activation ?? 'gelu',
    axial_pos_embds: true,
    axial_pos_shape: [a0, a1],
    axial_pos_embds_dim: [d0, dim - d0],
    max_position_embeddings: maxPositions,
    lsh_attn_chunk_length: bucketSize,
    local_attn_chunk_length: bucketSize,
    lsh_num_chunks_before: 1,
    lsh_num_chunks_after: 0,
    local_num_chunks_before: 1,
    local_num_chunks_after: 0,
    num_hashes: nHashes,
    // Hugging Face's rule at the longest (padded) length; a sequence no longer than one chunk gets 2.
    num_buckets: chooseNumBuckets(Math.max(padded, bucketSize + 1), bucketSize, maxPositions),
    is_decoder: options.causal ?? true,
    chunk_size_feed_forward: options.ffChunkSize ?? 0,
    hidden_dropout_prob: dropout,
    local_attention_probs_dropout_prob: dropout,
    eos_token_id: null,
    pad_token_id: 0,
  });
}

/**
 * A Reformer LM in one line: `createReformerLM({ vocabSize: 256, maxSeqLen: 4096 })` is a 6-layer causal
 * LSH model of width 256 that trains and generates at any length up to `maxSeqLen`. The config is
 * {@link reformerLMConfig}'s; `options` of the model (seed, reversible) as the constructors take them.
 */
export function createReformerLM(options: ReformerLMOptions & { causal?: true }, modelOptions?: ModelOptions): ReformerModelWithLMHead;
export function createReformerLM(options: ReformerLMOptions & { causal: false }, modelOptions?: ModelOptions): ReformerForMaskedLM;
export function createReformerLM(options: ReformerLMOptions, modelOptions?: ModelOptions): ReformerModelWithLMHead | ReformerForMaskedLM;
export function createReformerLM(
  options: ReformerLMOptions,
  modelOptions: ModelOptions = {},
): ReformerModelWithLMHead | ReformerForMaskedLM {
  const config = reformerLMConfig(options);
  return config.is_decoder ? new ReformerModelWithLMHead(config, modelOptions) : new ReformerForMaskedLM(config, modelOptions);
}
