import { LayerNorm, Module, tidy, type Tensor } from '@reformer/core';
import { ChunkedFeedForward } from '@reformer/chunked-ffn';
import { FullSelfAttention, LSHSelfAttention, LocalSelfAttention, type AttentionLayer } from '@reformer/lsh';
import { ReversibleBlock } from '@reformer/reversible';
import type { AttentionType, ReformerConfig } from './config.js';

/** Per-call options every layer of the stack receives (through the reversible sequence). */
export interface ReformerLayerOptions {
  /** Padding mask, int32 `[batch, length]`: 1 = real token, 0 = padding. */
  mask?: Tensor;
  /** Hash rounds of every LSH layer for this call (default: `num_hashes`). */
  nHashes?: number;
  /**
   * Explicit rotations per layer index (`[heads, headSize, nHashes, nBuckets/2]`, Hugging Face's
   * layout), for parity with recorded rotations or for generation with fixed hashing; entries of
   * non-LSH layers are ignored.
   */
  rotations?: readonly (Tensor | Tensor[] | undefined)[];
}

/** The attention layer of one type, configured from the model config. */
function createAttention(config: ReformerConfig, type: AttentionType): AttentionLayer {
  const common = {
    hiddenSize: config.hidden_size,
    numHeads: config.num_attention_heads,
    headSize: config.attention_head_size,
    causal: config.is_decoder,
    outputDropout: config.hidden_dropout_prob,
    initStd: config.initializer_range,
  };
  if (type === 'lsh') {
    return new LSHSelfAttention({
      ...common,
      chunkLength: config.lsh_attn_chunk_length,
      chunksBefore: config.lsh_num_chunks_before,
      chunksAfter: config.lsh_num_chunks_after,
      attentionDropout: config.lsh_attention_probs_dropout_prob,
      nHashes: config.num_hashes,
      nBuckets: config.num_buckets ?? 'auto',
      ...(config.hash_seed !== null ? { hashSeed: config.hash_seed } : {}),
      maxPositionEmbeddings: config.max_position_embeddings,
    });
  }
  const local = {
    ...common,
    chunkLength: config.local_attn_chunk_length,
    chunksBefore: config.local_num_chunks_before,
    chunksAfter: config.local_num_chunks_after,
    attentionDropout: config.local_attention_probs_dropout_prob,
  };
  return type === 'local' ? new LocalSelfAttention(local) : new FullSelfAttention(local);
}

/**
 * The attention half of a Reformer layer (Hugging Face's `ReformerAttention`):
 * `Attn(h) = attention(LayerNorm(h))`, where `attention` is LSH, local or full self-attention
 * (projections, attention, `output.dense`, output dropout). Parameter names are Hugging Face's below
 * `attention.`: `layer_norm.{weight,bias}`, `self_attention.…`, `output.dense.weight`.
 */
export class ReformerAttention extends Module {
  /** The attention type. */
  readonly type: AttentionType;
  /** Index of this layer in the stack (selects its entry of `options.rotations`). */
  readonly index: number;
  /** Pre-LayerNorm over H. */
  readonly layer_norm: LayerNorm;
  /** The attention layer (its children are registered here directly, for Hugging Face's names). */
  readonly attention: AttentionLayer;

  constructor(config: ReformerConfig, type: AttentionType, index: number) {
    super();
    this.type = type;
    this.index = index;
    this.layer_norm = this.addModule('layer_norm', new LayerNorm({ dim: config.hidden_size, eps: config.layer_norm_eps }));
    this.attention = createAttention(config, type);
    for (const [name, child] of this.attention.namedChildren()) this.addModule(name, child);
  }

  /** `h` `[batch, length, H]` → `attention(LayerNorm(h))`. */
  forward(h: Tensor, options: ReformerLayerOptions = {}): Tensor {
    return tidy(() => {
      const n = this.layer_norm.forward(h);
      const rotations = options.rotations?.[this.index];
      return this.attention.forward(n, {
        ...(options.mask !== undefined ? { mask: options.mask } : {}),
        ...(options.nHashes !== undefined ? { nHashes: options.nHashes } : {}),
        ...(rotations !== undefined && this.attention instanceof LSHSelfAttention ? { rotations } : {}),
      });
    });
  }

  /** Sets training mode here and on the attention layer. */
  override train(on = true): this {
    super.train(on);
    this.attention.train(on);
    return this;
  }

  /** Disposes the parameters and the attention layer's state (LSH buckets). */
  override dispose(): void {
    this.attention.dispose();
    super.dispose();
  }
}

/** The feed-forward half of a Reformer layer (`feed_forward.…`); ignores the attention options. */
export class ReformerFeedForward extends ChunkedFeedForward {
  override forward(x: Tensor): Tensor {
    return super.forward(x);
  }
}

/**
 * The chunked feed-forward half of a Reformer layer (`feed_forward.…`), configured from the model
 * config; its `forward(x, options?)` ignores the per-call layer options.
 */
export function createReformerFeedForward(config: ReformerConfig): ReformerFeedForward {
  return new ReformerFeedForward({
    hiddenSize: config.hidden_size,
    feedForwardSize: config.feed_forward_size,
    activation: config.hidden_act,
    dropout: config.hidden_dropout_prob,
    chunkSize: config.chunk_size_feed_forward,
    layerNormEps: config.layer_norm_eps,
    initStd: config.initializer_range,
  });
}

/**
 * Layer `index` of the stack: a reversible block with `attention` (f) and `feed_forward` (g), Hugging
 * Face's `ReformerLayer` and its parameter names.
 */
export function createReformerLayer(config: ReformerConfig, index: number): ReversibleBlock<ReformerLayerOptions> {
  const type = config.attn_layers[index]!;
  const attention = new ReformerAttention(config, type, index);
  const feedForward = createReformerFeedForward(config);
  return new ReversibleBlock<ReformerLayerOptions>(attention, feedForward, { f: 'attention', g: 'feed_forward' });
}
