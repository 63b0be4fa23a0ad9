import {
  DTypeError,
  InvalidArgumentError,
  ShapeMismatchError,
  checkInteger,
  checkNonNegative,
  checkRate,
  formatShape,
  formatValue,
  type Module,
  type Tensor,
} from '@reformer/core';

/**
 * Per-call options of {@link AttentionLayer.forward}. Every attention layer accepts them, so a model
 * passes the same options whichever layer it holds.
 */
export interface AttentionForwardOptions {
  /**
   * Padding mask, int32 `[batch, length]`: 1 marks a real token, 0 a padding token that no query may
   * attend to. Outputs at padded positions are computed but meaningless.
   */
  mask?: Tensor;
  /**
   * LSH only: the number of hash rounds for this call, overriding the layer's `nHashes` (evaluate with
   * more rounds than the model was trained with). Ignored by local and full attention.
   */
  nHashes?: number;
}

/**
 * The one interface of the attention layers of this package ({@link LSHSelfAttention},
 * {@link LocalSelfAttention}, {@link FullSelfAttention}): a core `Module` mapping hidden states
 * `[batch, length, hiddenSize]` to `[batch, length, hiddenSize]`. A model that types its attention
 * child as `AttentionLayer` swaps one implementation for another by changing one constructor call.
 *
 * @example
 * ```ts
 * const attention: AttentionLayer = new LSHSelfAttention({ hiddenSize: 256, numHeads: 4, headSize: 64 });
 * // const attention: AttentionLayer = new LocalSelfAttention({ hiddenSize: 256, numHeads: 4, headSize: 64 });
 * const y = attention.forward(x, { mask });
 * ```
 */
export interface AttentionLayer extends Module {
  /** Size of the hidden states' last axis (input and output). */
  readonly hiddenSize: number;
  /** Number of attention heads. */
  readonly numHeads: number;
  /** Size of each head's vectors (`headSize · numHeads` need not equal `hiddenSize`). */
  readonly headSize: number;
  /** Whether a position attends only to positions at or before it. */
  readonly causal: boolean;
  /**
   * `hidden` `[batch, length, hiddenSize]` (float32) → `[batch, length, hiddenSize]`: project, attend,
   * merge the heads, output projection, output dropout.
   */
  forward(hidden: Tensor, options?: AttentionForwardOptions): Tensor;
  /**
   * The attention output before the output projection: `[batch, length, numHeads · headSize]` (what
   * Hugging Face's inner self-attention module returns). `forward` is `output(attend(hidden))`.
   */
  attend(hidden: Tensor, options?: AttentionForwardOptions): Tensor;
}

/**
 * Configuration shared by every attention layer. Names follow the layers' roles; the Hugging Face
 * `ReformerConfig` field each one corresponds to is given in its description.
 */
export interface AttentionLayerConfig {
  /** Size of the hidden states' last axis (`hidden_size`). */
  hiddenSize: number;
  /** Number of heads (`num_attention_heads`). */
  numHeads: number;
  /** Size of each head (`attention_head_size`). */
  headSize: number;
  /** Causal (decoder) attention (`is_decoder`); default false. */
  causal?: boolean;
  /**
   * Chunk length (`lsh_attn_chunk_length` / `local_attn_chunk_length`); default 64. Ignored by
   * {@link FullSelfAttention} (see its `queryChunk`).
   */
  chunkLength?: number;
  /** Neighbour chunks before each chunk in its window (`*_num_chunks_before`); default 1. */
  chunksBefore?: number;
  /** Neighbour chunks after each chunk in its window (`*_num_chunks_after`); default 0. */
  chunksAfter?: number;
  /**
   * Dropout on the attention probabilities (`*_attention_probs_dropout_prob`); default 0. See each
   * layer for where it is supported.
   */
  attentionDropout?: number;
  /** Dropout after the output projection (`hidden_dropout_prob`); default 0. */
  outputDropout?: number;
  /**
   * Standard deviation of the normal initial weights (`initializer_range`, 0.02 in Hugging Face's
   * models). Default: PyTorch's `nn.Linear` uniform init, which is what a freshly constructed Hugging
   * Face attention module has before a model re-initialises it.
   */
  initStd?: number;
  /** Seed of the initial weights (default: `nextSeed()`); the same seed gives the same weights on every backend. */
  seed?: number;
}

/** Defaults shared by the layers (Hugging Face `ReformerConfig` defaults where it has one). */
export const ATTENTION_DEFAULTS = {
  chunkLength: 64,
  chunksBefore: 1,
  chunksAfter: 0,
} as const;

/** The validated, defaulted common configuration. @internal */
export interface ResolvedAttentionConfig {
  hiddenSize: number;
  numHeads: number;
  headSize: number;
  causal: boolean;
  chunkLength: number;
  chunksBefore: number;
  chunksAfter: number;
  attentionDropout: number;
  outputDropout: number;
  initStd: number | undefined;
  seed: number | undefined;
}

/** Validates and defaults the common configuration. @internal */
export function resolveAttentionConfig(where: string, config: AttentionLayerConfig): ResolvedAttentionConfig {
  if (config === null || typeof config !== 'object') {
    throw new InvalidArgumentError(`${where}: expected a config object { hiddenSize, numHeads, headSize, ... }, got ${String(config)}.`);
  }
  const causal = config.causal ?? false;
  if (typeof causal !== 'boolean') throw new InvalidArgumentError(`${where}: causal must be a boolean, got ${formatValue(causal)}.`);
  const initStd = config.initStd;
  if (initStd !== undefined) checkNonNegative(where, 'initStd', initStd);
  return {
    hiddenSize: checkInteger(where, 'hiddenSize', config.hiddenSize, 1),
    numHeads: checkInteger(where, 'numHeads', config.numHeads, 1),
    headSize: checkInteger(where, 'headSize', config.headSize, 1),
    causal,
    chunkLength: checkInteger(where, 'chunkLength', config.chunkLength ?? ATTENTION_DEFAULTS.chunkLength, 1),
    chunksBefore: checkInteger(where, 'chunksBefore', config.chunksBefore ?? ATTENTION_DEFAULTS.chunksBefore, 0),
    chunksAfter: checkInteger(where, 'chunksAfter', config.chunksAfter ?? ATTENTION_DEFAULTS.chunksAfter, 0),
    attentionDropout: checkRate(where, 'attentionDropout', config.attentionDropout ?? 0),
    outputDropout: checkRate(where, 'outputDropout', config.outputDropout ?? 0),
    initStd,
    seed: config.seed === undefined ? undefined : checkInteger(where, 'seed', config.seed, 0),
  };
}

/**
 * Checks the hidden states of a forward call: float32 `[batch, length, hiddenSize]` with length ≥ 1.
 * @internal
 */
export function checkHidden(where: string, hidden: Tensor, hiddenSize: number): [number, number] {
  if (hidden.dtype !== 'float32') {
    throw new DTypeError(`${where}: hidden states must be float32, got ${hidden.dtype}.`);
  }
  if (hidden.rank !== 3) {
    throw new ShapeMismatchError(
      `${where}: hidden states must be [batch, length, hiddenSize = ${hiddenSize}], got ${formatShape(hidden.shape)}.`,
    );
  }
  const [batch, length, dModel] = hidden.shape as [number, number, number];
  if (dModel !== hiddenSize) {
    throw new ShapeMismatchError(
      `${where}: the hidden states' last axis (dModel) must equal hiddenSize = ${hiddenSize}, got ${formatShape(hidden.shape)}.`,
    );
  }
  if (batch < 1 || length < 1) {
    throw new ShapeMismatchError(`${where}: hidden states ${formatShape(hidden.shape)} must have batch ≥ 1 and length ≥ 1.`);
  }
  return [batch, length];
}
