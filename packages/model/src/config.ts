import { formatValue, InvalidArgumentError, isInteger, isNonNegative } from '@reformer/core';

/** The attention type of one layer: Hugging Face's `"lsh"` and `"local"`, and `"full"` (our extension). */
export type AttentionType = 'lsh' | 'local' | 'full';

/**
 * The Reformer's configuration, with Hugging Face `ReformerConfig`'s field names, meanings and
 * defaults ({@link DEFAULT_CONFIG}), so a Hub `config.json` is used as it is and ours loads there.
 * `num_hidden_layers` is `attn_layers.length`. Fields Hugging Face has and this library does not use
 * (`output_attentions`, `use_cache`, `architectures`, …) are kept when a config is loaded and written
 * back unchanged.
 */
export interface ReformerConfig {
  /** Attention type of each layer, in order; `"full"` is this library's extension (dense attention). */
  attn_layers: AttentionType[];
  /** Model width H: embeddings and each of the two reversible streams. */
  hidden_size: number;
  /** Heads per attention layer. */
  num_attention_heads: number;
  /** Width of each head (`num_attention_heads · attention_head_size` need not equal `hidden_size`). */
  attention_head_size: number;
  /** Inner width of the feed-forward blocks. */
  feed_forward_size: number;
  /** Feed-forward activation: `"relu"`, or `"gelu"` (exact erf GELU). */
  hidden_act: 'relu' | 'gelu';
  /** Axial position embeddings (true) or one learned row per position (false). */
  axial_pos_embds: boolean;
  /** The axial grid `[A0, A1]`: positions up to `A0 · A1`; position t is row `⌊t / A1⌋`, column `t mod A1`. */
  axial_pos_shape: [number, number];
  /** Feature split `[d0, d1]` of the axial embeddings; must sum to `hidden_size`. */
  axial_pos_embds_dim: [number, number];
  /** Standard deviation of the axial embeddings' initial weights. */
  axial_norm_std: number;
  /** Chunk length of LSH attention (slots of the sorted sequence per chunk). */
  lsh_attn_chunk_length: number;
  /** Chunk length of local attention. */
  local_attn_chunk_length: number;
  /** Neighbour chunks before each chunk, LSH attention. */
  lsh_num_chunks_before: number;
  /** Neighbour chunks after each chunk, LSH attention. */
  lsh_num_chunks_after: number;
  /** Neighbour chunks before each chunk, local attention. */
  local_num_chunks_before: number;
  /** Neighbour chunks after each chunk, local attention. */
  local_num_chunks_after: number;
  /** Hash rounds of LSH attention (overridable per call). */
  num_hashes: number;
  /** Buckets per round: even int, list of even factors, or null (chosen from the length as Hugging Face does). */
  num_buckets: number | number[] | null;
  /** Fixed seed of the LSH rotations (null: fresh rotations at every call, replayed in the backward). */
  hash_seed: number | null;
  /** Causal (decoder) attention: true for the causal LM, false for the masked LM. */
  is_decoder: boolean;
  /** Positions per chunk of the feed-forward blocks (0: unchunked). */
  chunk_size_feed_forward: number;
  /** Positions per chunk of the LM head's loss (0: one chunk). */
  chunk_size_lm_head: number;
  /** Dropout of embeddings, attention output, feed-forward and final LayerNorm output. */
  hidden_dropout_prob: number;
  /** Dropout on LSH attention probabilities (inside the fused chunked-attention kernel, Hugging Face's order: after the softmax of each round, before the values). */
  lsh_attention_probs_dropout_prob: number;
  /** Dropout on local attention probabilities. */
  local_attention_probs_dropout_prob: number;
  /** Epsilon of every LayerNorm. */
  layer_norm_eps: number;
  /** Standard deviation of the initial weights (normal; biases 0). */
  initializer_range: number;
  /** Vocabulary size V. */
  vocab_size: number;
  /** Id of the padding token (used when a batch is padded to a common length). */
  pad_token_id: number;
  /** Id of the end-of-sequence token (generation stops there when asked to). */
  eos_token_id: number | null;
  /** Longest sequence of the non-axial position embeddings, and `num_buckets: null`'s rule. */
  max_position_embeddings: number;
  /** Whether the LM head adds `lm_head.bias` to the logits (false: current Hugging Face; true: its 4.x line). Our extension. */
  lm_head_bias?: boolean;
  /** Any other field of a Hugging Face config, kept as it is. */
  [other: string]: unknown;
}

/** Hugging Face `ReformerConfig`'s defaults. */
export const DEFAULT_CONFIG: Readonly<ReformerConfig> = Object.freeze({
  attn_layers: ['local', 'lsh', 'local', 'lsh', 'local', 'lsh'],
  hidden_size: 256,
  num_attention_heads: 12,
  attention_head_size: 64,
  feed_forward_size: 512,
  hidden_act: 'relu',
  axial_pos_embds: true,
  axial_pos_shape: [64, 64],
  axial_pos_embds_dim: [64, 192],
  axial_norm_std: 1.0,
  lsh_attn_chunk_length: 64,
  local_attn_chunk_length: 64,
  lsh_num_chunks_before: 1,
  lsh_num_chunks_after: 0,
  local_num_chunks_before: 1,
  local_num_chunks_after: 0,
  num_hashes: 1,
  num_buckets: null,
  hash_seed: null,
  is_decoder: false,
  chunk_size_feed_forward: 0,
  chunk_size_lm_head: 0,
  hidden_dropout_prob: 0.05,
  lsh_attention_probs_dropout_prob: 0.0,
  local_attention_probs_dropout_prob: 0.05,
  layer_norm_eps: 1e-12,
  initializer_range: 0.02,
  vocab_size: 320,
  pad_token_id: 0,
  eos_token_id: 2,
  max_position_embeddings: 4096,
}) as Readonly<ReformerConfig>;

/**
 * A configuration is invalid. `problems` lists every problem found (all fields are checked before
 * this is thrown), each naming the field, the value and what is expected.
 */
export class ReformerConfigError extends InvalidArgumentError {
  /** One line per problem. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`Invalid ReformerConfig:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

const isEven = (v: unknown): v is number => isInteger(v, 2) && v % 2 === 0;
const isRate = (v: unknown): v is number => typeof v === 'number' && v >= 0 && v < 1;
const show = formatValue;

/**
 * Fills in Hugging Face's defaults for the fields `config` leaves out and validates the result:
 * every field's type and range, `attn_layers` entries, even `num_buckets`, axial dimensions summing to
 * `hidden_size`, and `lsh_attention_probs_dropout_prob` (see the field). Throws one
 * {@link ReformerConfigError} listing every problem.
 *
 * @example
 * ```ts
 * const config = resolveConfig({ attn_layers: ['lsh', 'lsh'], hidden_size: 128, num_attention_heads: 4,
 *   attention_head_size: 32, axial_pos_shape: [16, 16], axial_pos_embds_dim: [64, 64], is_decoder: true });
 * ```
 */
export function resolveConfig(config: Partial<ReformerConfig> = {}): ReformerConfig {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new ReformerConfigError([`the config must be an object of ReformerConfig fields, got ${show(config)}`]);
  }
  const defined = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
  const c = { ...structuredClone(DEFAULT_CONFIG), ...defined } as ReformerConfig;
  const problems: string[] = [];
  const need = (ok: boolean, field: string, expected: string): void => {
    if (!ok) problems.push(`${field} must be ${expected}, got ${show(c[field])}`);
  };

  need(
    Array.isArray(c.attn_layers) && c.attn_layers.length > 0 && c.attn_layers.every((t) => t === 'lsh' || t === 'local' || t === 'full'),
    'attn_layers',
    'a non-empty list of "lsh", "local" or "full"',
  );
  for (const f of [
    'hidden_size',
    'num_attention_heads',
    'attention_head_size',
    'feed_forward_size',
    'vocab_size',
    'lsh_attn_chunk_length',
    'local_attn_chunk_length',
    'num_hashes',
    'max_position_embeddings',
  ] as const) {
    need(isInteger(c[f], 1), f, 'a positive integer');
  }
  for (const f of [
    'lsh_num_chunks_before',
    'lsh_num_chunks_after',
    'local_num_chunks_before',
    'local_num_chunks_after',
    'chunk_size_feed_forward',
    'chunk_size_lm_head',
    'pad_token_id',
  ] as const) {
    need(isInteger(c[f], 0), f, 'a non-negative integer');
  }
  for (const f of ['hidden_dropout_prob', 'lsh_attention_probs_dropout_prob', 'local_attention_probs_dropout_prob'] as const) {
    need(isRate(c[f]), f, 'a probability in [0, 1)');
  }
  need(c.hidden_act === 'relu' || c.hidden_act === 'gelu', 'hidden_act', '"relu" or "gelu"');
  need(typeof c.is_decoder === 'boolean', 'is_decoder', 'a boolean');
  need(typeof c.axial_pos_embds === 'boolean', 'axial_pos_embds', 'a boolean');
  need(c.lm_head_bias === undefined || typeof c.lm_head_bias === 'boolean', 'lm_head_bias', 'a boolean');
  for (const f of ['layer_norm_eps', 'initializer_range', 'axial_norm_std'] as const) {
    need(isNonNegative(c[f]), f, 'a finite non-negative number');
  }
  need(
    c.num_buckets === null ||
      isEven(c.num_buckets) ||
      (Array.isArray(c.num_buckets) && c.num_buckets.length > 0 && c.num_buckets.every(isEven)),
    'num_buckets',
    'an even integer ≥ 2, a list of even integers ≥ 2 (factorised buckets), or null (chosen from the length)',
  );
  need(c.hash_seed === null || isInteger(c.hash_seed, 0), 'hash_seed', 'a non-negative integer or null');
  need(c.eos_token_id === null || isInteger(c.eos_token_id, 0), 'eos_token_id', 'a non-negative integer or null');
  if (isInteger(c.vocab_size, 1)) {
    need(c.pad_token_id < c.vocab_size, 'pad_token_id', `an id below vocab_size = ${c.vocab_size}`);
    if (c.eos_token_id !== null) need(c.eos_token_id < c.vocab_size, 'eos_token_id', `an id below vocab_size = ${c.vocab_size} (or null)`);
  }
  if (c.axial_pos_embds === true) {
    const pair = (v: unknown): v is [number, number] => Array.isArray(v) && v.length === 2 && v.every((n) => isInteger(n, 1));
    need(pair(c.axial_pos_shape), 'axial_pos_shape', 'two positive integers [A0, A1]');
    if (pair(c.axial_pos_embds_dim)) {
      const [d0, d1] = c.axial_pos_embds_dim;
      if (d0 + d1 !== c.hidden_size) {
        problems.push(
          `axial_pos_embds_dim ${show(c.axial_pos_embds_dim)} must sum to hidden_size = ${show(c.hidden_size)} (got ${d0 + d1})`,
        );
      }
    } else {
      need(false, 'axial_pos_embds_dim', 'two positive integers [d0, d1] summing to hidden_size');
    }
  }
  if (problems.length > 0) throw new ReformerConfigError(problems);
  return c;
}

/** The longest sequence the position embeddings cover: `A0 · A1` (axial) or `max_position_embeddings`. */
export function maxLength(config: ReformerConfig): number {
  return config.axial_pos_embds ? config.axial_pos_shape[0] * config.axial_pos_shape[1] : config.max_position_embeddings;
}
