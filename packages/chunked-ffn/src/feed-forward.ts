import {
  Dropout,
  LayerNorm,
  Linear,
  Module,
  ShapeMismatchError,
  deriveSeed,
  gelu,
  relu,
  type Tensor,
  type WeightInit,
  checkInteger,
  checkEnum,
  checkNonNegative,
  checkRate,
} from '@reformer/core';
import { chunked } from './chunked.js';

/** The feed-forward activation: `'relu'`, or `'gelu'` (the exact erf GELU, as Hugging Face's `"gelu"`). */
export type FeedForwardActivation = 'relu' | 'gelu';

/** Options of {@link ChunkedFeedForward}. Names follow Hugging Face `ReformerConfig` where one exists. */
export interface ChunkedFeedForwardOptions {
  /** Model width H (`hidden_size`): the input's and output's last axis. */
  hiddenSize: number;
  /** Inner width F (`feed_forward_size`), typically 4·H. */
  feedForwardSize: number;
  /** The activation (`hidden_act`). */
  activation: FeedForwardActivation;
  /** Dropout rate of the output (`hidden_dropout_prob`), default 0. */
  dropout?: number;
  /**
   * Dropout rate applied to the inner projection before the activation. Default: `dropout` (Hugging
   * Face applies `hidden_dropout_prob` there too).
   */
  activationDropout?: number;
  /**
   * Positions per chunk along the sequence axis (`chunk_size_feed_forward`): an integer ≥ 0; 0 (the
   * default) runs unchunked. Chunking changes memory, not the maths.
   */
  chunkSize?: number;
  /** Epsilon of the pre-LayerNorm (`layer_norm_eps`), default 1e-12. */
  layerNormEps?: number;
  /**
   * Initialise both Linear weights from N(0, initStd²) with zero biases (Hugging Face's
   * `initializer_range`, 0.02). Default: PyTorch's uniform init of `Linear`.
   */
  initStd?: number;
  /** Seed of the initial weights (default: drawn with `nextSeed()`). */
  seed?: number;
}

/**
 * Hugging Face's `ReformerFeedForwardDense`: `dense` (Linear H → F), dropout, activation.
 * Its parameters are `dense.weight` and `dense.bias`.
 */
export class FeedForwardDense extends Module {
  /** Linear H → F: `weight` `[F, H]`, `bias` `[F]`. */
  readonly dense: Linear;
  /** Dropout applied before the activation. */
  readonly dropout: Dropout;
  /** The activation. */
  readonly activation: FeedForwardActivation;

  /** Creates the layer. */
  constructor(
    hiddenSize: number,
    feedForwardSize: number,
    activation: FeedForwardActivation,
    dropout: number,
    init: WeightInit,
    seed: number | undefined,
  ) {
    super();
    this.dense = this.addModule('dense', new Linear({ inFeatures: hiddenSize, outFeatures: feedForwardSize, init, seed }));
    this.dropout = this.addModule('dropout', new Dropout({ rate: dropout }));
    this.activation = activation;
  }

  /** `[..., H]` → `act(dropout(dense(x)))` `[..., F]`. */
  forward(x: Tensor): Tensor {
    const h = this.dense.forward(x);
    const d = this.dropout.forward(h);
    h.dispose();
    const a = this.activation === 'relu' ? relu(d) : gelu(d);
    d.dispose();
    return a;
  }
}

/**
 * Hugging Face's `ReformerFeedForwardOutput`: `dense` (Linear F → H), dropout.
 * Its parameters are `dense.weight` and `dense.bias`.
 */
export class FeedForwardOutput extends Module {
  /** Linear F → H: `weight` `[H, F]`, `bias` `[H]`. */
  readonly dense: Linear;
  /** Dropout of the output. */
  readonly dropout: Dropout;

  /** Creates the layer. */
  constructor(hiddenSize: number, feedForwardSize: number, dropout: number, init: WeightInit, seed: number | undefined) {
    super();
    this.dense = this.addModule('dense', new Linear({ inFeatures: feedForwardSize, outFeatures: hiddenSize, init, seed }));
    this.dropout = this.addModule('dropout', new Dropout({ rate: dropout }));
  }

  /** `[..., F]` → `dropout(dense(x))` `[..., H]`. */
  forward(x: Tensor): Tensor {
    const h = this.dense.forward(x);
    const out = this.dropout.forward(h);
    h.dispose();
    return out;
  }
}

/**
 * The Reformer's feed-forward block with its pre-LayerNorm (Hugging Face `ChunkReformerFeedForward`),
 * chunked over the sequence axis in forward and backward:
 *
 * `FF(y) = dropout(output.dense(act(dropout(dense.dense(LayerNorm(y))))))`
 *
 * Parameter names are Hugging Face's below `feed_forward.`: `layer_norm.weight`, `layer_norm.bias`
 * `[H]`, `dense.dense.weight` `[F, H]`, `dense.dense.bias` `[F]`, `output.dense.weight` `[H, F]`,
 * `output.dense.bias` `[H]`, so `loadStateDict` takes a Hub checkpoint's tensors as they are.
 *
 * With `chunkSize` > 0 the block runs through {@link chunked}: only `chunkSize` positions of the
 * `[batch, length, F]` inner activations exist at any time, in the forward and in the backward
 * (which recomputes each chunk). Outputs and gradients equal the unchunked block's; dropout masks are
 * replayed exactly in the recompute (but differ from the unchunked block's masks).
 *
 * @example
 * ```ts
 * const ff = new ChunkedFeedForward({ hiddenSize: 256, feedForwardSize: 1024, activation: 'gelu', chunkSize: 128 });
 * const y = ff.forward(x); // x [batch, length, 256] → [batch, length, 256]
 * ```
 */
export class ChunkedFeedForward extends Module {
  /** Model width H. */
  readonly hiddenSize: number;
  /** Inner width F. */
  readonly feedForwardSize: number;
  /** Pre-LayerNorm over H. */
  readonly layer_norm: LayerNorm;
  /** Linear H → F, dropout, activation. */
  readonly dense: FeedForwardDense;
  /** Linear F → H, dropout. */
  readonly output: FeedForwardOutput;
  #chunkSize: number;

  /** Creates the block and its parameters on the current backend. */
  constructor(options: ChunkedFeedForwardOptions) {
    super();
    const {
      hiddenSize,
      feedForwardSize,
      activation,
      dropout = 0,
      activationDropout = dropout,
      chunkSize = 0,
      layerNormEps = 1e-12,
      initStd,
      seed,
    } = options;
    checkInteger('ChunkedFeedForward', 'hiddenSize', hiddenSize, 1);
    checkInteger('ChunkedFeedForward', 'feedForwardSize', feedForwardSize, 1);
    checkInteger('ChunkedFeedForward', 'chunkSize', chunkSize, 0);
    checkEnum('ChunkedFeedForward', 'activation', activation, ['relu', 'gelu']);
    checkRate('ChunkedFeedForward', 'dropout', dropout);
    checkRate('ChunkedFeedForward', 'activationDropout', activationDropout);
    if (initStd !== undefined) checkNonNegative('ChunkedFeedForward', 'initStd', initStd);
    if (seed !== undefined) checkInteger('ChunkedFeedForward', 'seed', seed, 0);
    const init: WeightInit = initStd === undefined ? 'uniform' : { std: initStd };
    this.hiddenSize = hiddenSize;
    this.feedForwardSize = feedForwardSize;
    this.#chunkSize = chunkSize;
    this.layer_norm = this.addModule('layer_norm', new LayerNorm({ dim: hiddenSize, eps: layerNormEps }));
    this.dense = this.addModule(
      'dense',
      new FeedForwardDense(
        hiddenSize,
        feedForwardSize,
        activation,
        activationDropout,
        init,
        seed === undefined ? undefined : deriveSeed(seed, 0),
      ),
    );
    this.output = this.addModule(
      'output',
      new FeedForwardOutput(hiddenSize, feedForwardSize, dropout, init, seed === undefined ? undefined : deriveSeed(seed, 1)),
    );
  }

  /** Positions per chunk (0: unchunked). Settable; must be an integer ≥ 0. */
  get chunkSize(): number {
    return this.#chunkSize;
  }

  set chunkSize(value: number) {
    checkInteger('ChunkedFeedForward', 'chunkSize', value, 0);
    this.#chunkSize = value;
  }

  /** The block on one chunk (or on everything): LayerNorm → dense → dropout → act → output → dropout. */
  #body(x: Tensor): Tensor {
    const n = this.layer_norm.forward(x);
    const a = this.dense.forward(n);
    n.dispose();
    const y = this.output.forward(a);
    a.dispose();
    return y;
  }

  /**
   * `x` `[..., length, H]` (usually `[batch, length, H]`) → `FF(x)`, same shape. Chunked over the
   * length axis (the second to last) when `chunkSize` > 0 and smaller than the length.
   * @param options.chunkSize - Overrides the block's `chunkSize` for this call.
   */
  forward(x: Tensor, options: { chunkSize?: number } = {}): Tensor {
    if (x.rank < 1 || x.shape[x.rank - 1] !== this.hiddenSize) {
      throw new ShapeMismatchError(
        `ChunkedFeedForward.forward: input [${x.shape.join(', ')}] must end with hiddenSize = ${this.hiddenSize}.`,
      );
    }
    const chunkSize = options.chunkSize ?? this.#chunkSize;
    checkInteger('ChunkedFeedForward.forward', 'chunkSize', chunkSize, 0);
    if (chunkSize === 0 || x.rank < 2) return this.#body(x);
    return chunked((s) => this.#body(s), x, { chunkSize, axis: x.rank - 2, params: this.parameters() });
  }
}
