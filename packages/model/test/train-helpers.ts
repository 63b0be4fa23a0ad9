import type { ReformerConfig } from '../src/index.js';

/** A tiny causal config: 2 layers (LSH with hashing active, and local), 16 positions. */
export function tinyConfig(overrides: Partial<ReformerConfig> = {}): Partial<ReformerConfig> {
  return {
    attn_layers: ['lsh', 'local'],
    is_decoder: true,
    hidden_size: 16,
    num_attention_heads: 2,
    attention_head_size: 8,
    feed_forward_size: 32,
    axial_pos_shape: [4, 4],
    axial_pos_embds_dim: [8, 8],
    vocab_size: 12,
    lsh_attn_chunk_length: 4,
    local_attn_chunk_length: 4,
    num_hashes: 2,
    num_buckets: 4,
    hidden_dropout_prob: 0,
    local_attention_probs_dropout_prob: 0,
    eos_token_id: null,
    ...overrides,
  };
}
