import {
  DTypeError,
  Dropout,
  InvalidArgumentError,
  LayerNorm,
  Module,
  ShapeMismatchError,
  formatShape,
  seedScope,
  tidy,
  type Tensor,
  checkInteger,
} from '@reformer/core';
import { ChunkedLMHead } from '@reformer/chunked-ffn';
import { ReversibleSequence, duplicate, mergeHalves } from '@reformer/reversible';
import { ReformerConfigError, resolveConfig, type ReformerConfig } from './config.js';
import { ReformerEmbeddings } from './embeddings.js';
import { createReformerLayer, type ReformerLayerOptions } from './layer.js';
import { ignorePadding } from './labels.js';
import { checkModelSizes } from './sizes.js';

/** Options of a model's constructor. */
export interface ModelOptions {
  /** Seed of every initial weight (the same seed gives the same model on every backend). Default: drawn with `nextSeed()`. */
  seed?: number;
  /** Run the stack reversibly (default true: memory independent of depth) or as plain residuals. */
  reversible?: boolean;
}

/**
 * Builds a model's modules: under `seedScope(options.seed)` when a seed is given (the same seed, the
 * same weights on every backend), else from the current seed stream. @internal
 */
export function buildSeeded<T>(options: ModelOptions, build: () => T): T {
  return options.seed === undefined ? build() : seedScope(options.seed, build);
}

/** Per-call options of the models' `forward`, `logits` and `loss`. */
export interface ForwardOptions {
  /** Padding mask, int32 `[batch, length]`: 1 = real token, 0 = padding (never attended to). */
  attentionMask?: Tensor;
  /** Hash rounds of every LSH layer for this call (evaluate with more rounds than trained with). */
  nHashes?: number;
  /** Explicit LSH rotations per layer index (see {@link ReformerLayerOptions.rotations}). */
  rotations?: readonly (Tensor | Tensor[] | undefined)[];
  /** Position of the first token (default 0): positions `start … start + length − 1` are embedded. */
  start?: number;
}

/** Options of the LM heads' `loss`. */
export interface LossOptions extends ForwardOptions {
  /**
   * int32 `[batch, length]` targets, −100 = ignored. Causal LM: default the input ids (shifted inside,
   * as Hugging Face), with padding positions (mask 0) ignored. Masked LM: required.
   */
  labels?: Tensor;
}

/**
 * The checks of a call's token ids and mask: int32 `[batch, length]`, 1 ≤ length ≤ the position
 * embeddings' reach. @internal
 */
export function checkIds(where: string, ids: Tensor, maxLength: number, start: number, mask?: Tensor): [number, number] {
  if (ids.dtype !== 'int32') throw new DTypeError(`${where}: input ids must be int32 [batch, length], got ${ids.dtype}.`);
  if (ids.rank !== 2 || ids.shape[0]! < 1 || ids.shape[1]! < 1) {
    throw new ShapeMismatchError(`${where}: input ids must be [batch, length] with batch, length ≥ 1, got ${formatShape(ids.shape)}.`);
  }
  const [batch, length] = ids.shape as [number, number];
  checkInteger(where, 'start', start, 0);
  if (start + length > maxLength) {
    throw new ShapeMismatchError(
      `${where}: ${start + length} positions, but the position embeddings cover ${maxLength} (axial_pos_shape product, or max_position_embeddings).`,
    );
  }
  if (mask !== undefined) {
    if (mask.dtype !== 'int32')
      throw new DTypeError(`${where}: attentionMask must be int32 [batch, length] (1 = token, 0 = padding), got ${mask.dtype}.`);
    if (mask.rank !== 2 || mask.shape[0] !== batch || mask.shape[1] !== length) {
      throw new ShapeMismatchError(`${where}: attentionMask must be [${batch}, ${length}] like the ids, got ${formatShape(mask.shape)}.`);
    }
  }
  return [batch, length];
}

/**
 * Hugging Face's `ReformerEncoder`: the reversible stack of layers (`layers.{i}.attention.…`,
 * `layers.{i}.feed_forward.…`) on the duplicated input, then `dropout(LayerNorm(concat(y1, y2)))`
 * over 2H (`layer_norm.{weight,bias}`).
 */
export class ReformerEncoder extends Module {
  /** The reversible stack. */
  readonly layers: ReversibleSequence<ReformerLayerOptions>;
  /** Final LayerNorm over 2H. */
  readonly layer_norm: LayerNorm;
  /** Dropout after it. */
  readonly dropout: Dropout;

  constructor(config: ReformerConfig, reversible = true) {
    super();
    const blocks = config.attn_layers.map((_, i) => createReformerLayer(config, i));
    this.layers = this.addModule('layers', new ReversibleSequence(blocks, { reversible }));
    this.layer_norm = this.addModule('layer_norm', new LayerNorm({ dim: 2 * config.hidden_size, eps: config.layer_norm_eps }));
    this.dropout = this.addModule('dropout', new Dropout({ rate: config.hidden_dropout_prob }));
  }

  /** `x` `[batch, length, H]` → `[batch, length, 2H]`. */
  forward(x: Tensor, options: ReformerLayerOptions = {}): Tensor {
    return tidy(() => {
      const [x1, x2] = duplicate(x);
      const [y1, y2] = this.layers.forward(x1, x2, options);
      return this.dropout.forward(this.layer_norm.forward(mergeHalves(y1, y2)));
    });
  }
}

/**
 * The Reformer body (Hugging Face's `ReformerModel`): embeddings (`embeddings.…`) and the encoder
 * (`encoder.…`). `forward(ids)` returns the final hidden states `[batch, length, 2H]`.
 *
 * Any length up to the position embeddings' reach works: LSH and local attention pad to a multiple of
 * their chunk length internally (padding masked), so results at real positions equal those of an
 * unpadded run.
 */
export class ReformerModel extends Module {
  /** The validated configuration (Hugging Face field names). */
  readonly config: ReformerConfig;
  /** Word and position embeddings. */
  readonly embeddings: ReformerEmbeddings;
  /** The reversible stack and final LayerNorm. */
  readonly encoder: ReformerEncoder;

  /**
   * Creates the model's parameters on the current backend. The configuration is validated, and the
   * sizes it implies checked against the backend's `maxAllocationBytes`, before anything is allocated.
   *
   * @throws {ReformerConfigError} on a bad config (every problem listed).
   * @throws {AllocationTooLargeError} (from `@reformer/core`) when a parameter tensor, or an LSH
   *   layer's rotations or sorted copies, would exceed the backend's `maxAllocationBytes`; the message
   *   gives the bytes and the config fields to lower.
   */
  constructor(config: Partial<ReformerConfig>, options: ModelOptions = {}) {
    super();
    const resolved = resolveConfig(config);
    checkModelSizes('ReformerModel', resolved, false);
    this.config = resolved;
    const build = (): [ReformerEmbeddings, ReformerEncoder] => [
      new ReformerEmbeddings(resolved),
      new ReformerEncoder(resolved, options.reversible ?? true),
    ];
    const [embeddings, encoder] = buildSeeded(options, build);
    this.embeddings = this.addModule('embeddings', embeddings);
    this.encoder = this.addModule('encoder', encoder);
  }

  /** Whether the stack runs reversibly (settable). */
  get reversible(): boolean {
    return this.encoder.layers.reversible;
  }

  set reversible(on: boolean) {
    this.encoder.layers.reversible = on;
  }

  /** int32 `ids` `[batch, length]` → hidden states `[batch, length, 2H]`. */
  forward(ids: Tensor, options: ForwardOptions = {}): Tensor {
    const start = options.start ?? 0;
    checkIds(`${this.constructor.name}.forward`, ids, this.embeddings.maxLength, start, options.attentionMask);
    return tidy(() => this.encoder.forward(this.embeddings.forward(ids, start), layerOptions(options)));
  }
}

/** The layer options of a call. @internal */
export function layerOptions(options: ForwardOptions): ReformerLayerOptions {
  return {
    ...(options.attentionMask !== undefined ? { mask: options.attentionMask } : {}),
    ...(options.nHashes !== undefined ? { nHashes: options.nHashes } : {}),
    ...(options.rotations !== undefined ? { rotations: options.rotations } : {}),
  };
}

/**
 * What the causal and the masked LM share: the body `reformer` and the chunked LM head `lm_head`
 * (`decoder.weight` `[V, 2H]`, `bias` `[V]`, applied only with `lm_head_bias: true`).
 */
export abstract class ReformerLM extends Module {
  /** The validated configuration. */
  readonly config: ReformerConfig;
  /** The body. */
  readonly reformer: ReformerModel;
  /** The LM head. */
  readonly lm_head: ChunkedLMHead;
  /** Causal (shifted) loss or masked-LM loss. */
  protected abstract readonly causalLoss: boolean;

  /**
   * Validates the config (including `is_decoder`, which must equal `decoder`) and checks its sizes
   * before anything is allocated, then builds the body and the head.
   */
  protected constructor(config: Partial<ReformerConfig>, options: ModelOptions, decoder: boolean) {
    super();
    const name = new.target.name;
    const resolved = resolveConfig(config);
    if (resolved.is_decoder !== decoder) {
      throw new ReformerConfigError([
        decoder
          ? `is_decoder must be true for ${name} (causal attention), got ${String(resolved.is_decoder)}. Use ReformerForMaskedLM for bidirectional attention.`
          : `is_decoder must be false for ${name} (bidirectional attention), got ${String(resolved.is_decoder)}. Use ReformerModelWithLMHead for a causal LM.`,
      ]);
    }
    checkModelSizes(name, resolved, true);
    const build = (): [ReformerModel, ChunkedLMHead] => {
      const reformer = new ReformerModel(resolved, { ...options, seed: undefined });
      const c = reformer.config;
      const head = new ChunkedLMHead({
        hiddenSize: 2 * c.hidden_size,
        vocabSize: c.vocab_size,
        chunkSize: c.chunk_size_lm_head,
        bias: c.lm_head_bias ?? false,
        initStd: c.initializer_range,
      });
      return [reformer, head];
    };
    const [reformer, head] = buildSeeded(options, build);
    this.config = reformer.config;
    this.reformer = this.addModule('reformer', reformer);
    this.lm_head = this.addModule('lm_head', head);
  }

  /** Hidden states `[batch, length, 2H]` (the LM head's input). */
  hiddenStates(ids: Tensor, options: ForwardOptions = {}): Tensor {
    return this.reformer.forward(ids, options);
  }

  /** int32 `ids` `[batch, length]` → logits `[batch, length, V]` (materialised; for inference). */
  forward(ids: Tensor, options: ForwardOptions = {}): Tensor {
    return tidy(() => this.lm_head.forward(this.reformer.forward(ids, options)));
  }

  /**
   * The mean cross-entropy loss, computed chunk by chunk (`chunk_size_lm_head`) so the logits are
   * never materialised. Causal LM: position t predicts `labels[t + 1]` (Hugging Face's shift); masked
   * LM: position t predicts `labels[t]`. Labels −100 are ignored.
   */
  loss(ids: Tensor, options: LossOptions = {}): Tensor {
    const where = `${this.constructor.name}.loss`;
    let labels = options.labels;
    if (labels === undefined && !this.causalLoss) {
      throw new InvalidArgumentError(`${where}: a masked LM needs options.labels (int32 [batch, length], −100 = not scored).`);
    }
    if (labels !== undefined && (labels.rank !== 2 || labels.shape[0] !== ids.shape[0] || labels.shape[1] !== ids.shape[1])) {
      throw new ShapeMismatchError(
        `${where}: labels must have the ids' shape ${formatShape(ids.shape)}, got ${formatShape(labels.shape)}.`,
      );
    }
    return tidy(() => {
      labels ??= options.attentionMask !== undefined ? ignorePadding(ids, options.attentionMask) : ids;
      const hidden = this.reformer.forward(ids, options);
      return this.lm_head.loss(hidden, labels, { shift: this.causalLoss });
    });
  }
}

/**
 * The causal Reformer language model (Hugging Face's `ReformerModelWithLMHead`): `is_decoder` must be
 * true. `loss(ids)` is the next-token loss with Hugging Face's shift.
 *
 * @example
 * ```ts
 * const model = new ReformerModelWithLMHead({ attn_layers: ['lsh', 'lsh'], is_decoder: true, hidden_size: 64,
 *   num_attention_heads: 2, attention_head_size: 32, axial_pos_shape: [16, 16], axial_pos_embds_dim: [32, 32],
 *   vocab_size: 64 }, { seed: 1 });
 * const loss = model.loss(ids); // ids: int32 [batch, length]
 * ```
 */
export class ReformerModelWithLMHead extends ReformerLM {
  protected readonly causalLoss = true;

  /**
   * Creates the model; nothing is allocated unless the config is valid and its sizes fit.
   *
   * @throws {ReformerConfigError} on a bad config or `is_decoder: false`.
   * @throws {AllocationTooLargeError} (from `@reformer/core`) when a tensor the config implies would
   *   exceed the backend's `maxAllocationBytes` (see {@link ReformerModel}).
   */
  constructor(config: Partial<ReformerConfig>, options: ModelOptions = {}) {
    super(config, options, true);
  }
}

/**
 * The bidirectional (masked) Reformer language model (Hugging Face's `ReformerForMaskedLM`):
 * `is_decoder` must be false; `loss(ids, { labels })` scores `labels[t]` at position t.
 */
export class ReformerForMaskedLM extends ReformerLM {
  protected readonly causalLoss = false;

  /**
   * Creates the model; nothing is allocated unless the config is valid and its sizes fit.
   *
   * @throws {ReformerConfigError} on a bad config or `is_decoder: true`.
   * @throws {AllocationTooLargeError} (from `@reformer/core`) when a tensor the config implies would
   *   exceed the backend's `maxAllocationBytes` (see {@link ReformerModel}).
   */
  constructor(config: Partial<ReformerConfig>, options: ModelOptions = {}) {
    super({ is_decoder: false, ...config }, options, false);
  }
}
