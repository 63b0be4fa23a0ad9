import {
  Dropout,
  Embedding,
  Module,
  ShapeMismatchError,
  add,
  concat,
  expandDims,
  fromHost,
  gather,
  mul,
  nextSeed,
  initNormal,
  reshape,
  tidy,
  uniformValues,
  type Tensor,
  type Variable,
} from '@reformer/core';
import { maxLength, type ReformerConfig } from './config.js';

/** Host int32 tensor of `values` with `shape`. */
function ints(values: Int32Array, shape: number[]): Tensor {
  return fromHost(values, shape, 'int32');
}

/**
 * Hugging Face's `AxialPositionEmbeddings`: two tables, `weights.0` `[A0, 1, d0]` and `weights.1`
 * `[1, A1, d1]`; position t gets `concat(weights.0[⌊t/A1⌋, 0], weights.1[0, t mod A1])` (d0 + d1 = H
 * features) — `A0 + A1` rows cover `A0 · A1` positions. In training with `dropout > 0` whole columns
 * are dropped as Hugging Face does (`dropout2d`): for each batch row and each column `a1`, the
 * embeddings of all positions with `t mod A1 = a1` are zeroed together (kept ones scaled by `1/(1−p)`).
 */
export class AxialPositionEmbeddings extends Module {
  /** The grid `[A0, A1]`. */
  readonly shape: readonly [number, number];
  /** The tables `weights.0`, `weights.1` (registered as a child named `weights`). */
  readonly weights: AxialWeights;
  /** Column dropout rate in training. */
  readonly dropout: number;

  /** Creates the tables (normal, std `axial_norm_std`) on the current backend. */
  constructor(config: ReformerConfig, seed?: number) {
    super();
    this.shape = [config.axial_pos_shape[0], config.axial_pos_shape[1]];
    this.dropout = config.hidden_dropout_prob;
    this.weights = this.addModule('weights', new AxialWeights(config, seed));
  }

  /**
   * The embeddings of positions `start … start + length − 1`: `[1, length, H]`, or `[batch, length, H]`
   * in training with dropout. Throws `ShapeMismatchError` past `A0 · A1` positions.
   */
  forward(batch: number, length: number, start = 0): Tensor {
    const [a0, a1] = this.shape;
    if (start + length > a0 * a1) {
      throw new ShapeMismatchError(
        `AxialPositionEmbeddings: positions up to ${start + length} requested, but axial_pos_shape [${a0}, ${a1}] covers ${a0 * a1}. ` +
          'Use shorter sequences or a config with a larger axial_pos_shape.',
      );
    }
    const rows = new Int32Array(length);
    const cols = new Int32Array(length);
    for (let i = 0; i < length; i++) {
      rows[i] = Math.floor((start + i) / a1);
      cols[i] = (start + i) % a1;
    }
    return tidy(() => {
      const w0 = this.weights.get(0);
      const w1 = this.weights.get(1);
      const e0 = gather(reshape(w0, [a0, w0.shape[2]!]), ints(rows, [length]), 0);
      const e1 = gather(reshape(w1, [a1, w1.shape[2]!]), ints(cols, [length]), 0);
      const pos = expandDims(concat([e0, e1], -1), 0);
      if (!this.training || this.dropout === 0) return pos;
      const u = uniformValues(nextSeed(), batch * a1);
      const scale = 1 / (1 - this.dropout);
      const m = new Float32Array(batch * length);
      for (let b = 0; b < batch; b++)
        for (let i = 0; i < length; i++) m[b * length + i] = u[b * a1 + cols[i]!]! >= this.dropout ? scale : 0;
      return mul(pos, fromHost(m, [batch, length, 1], 'float32'));
    });
  }
}

/** The parameter list `0`, `1` of {@link AxialPositionEmbeddings} (Hugging Face's `nn.ParameterList`). */
export class AxialWeights extends Module {
  readonly #tables: Variable[];

  constructor(config: ReformerConfig, seed?: number) {
    super();
    const [a0, a1] = config.axial_pos_shape;
    const [d0, d1] = config.axial_pos_embds_dim;
    const std = config.axial_norm_std;
    this.#tables = [
      this.addParameter('0', initNormal([a0, 1, d0], { std, seed: seed ?? nextSeed() })),
      this.addParameter('1', initNormal([1, a1, d1], { std, seed: seed === undefined ? nextSeed() : seed + 1 })),
    ];
  }

  /** Table `i` (0: `[A0, 1, d0]`, 1: `[1, A1, d1]`). */
  get(i: 0 | 1): Variable {
    return this.#tables[i]!;
  }
}

/** Hugging Face's `PositionEmbeddings`: one learned row per position, `embedding.weight` `[max_position_embeddings, H]`, then dropout. */
export class PositionEmbeddings extends Module {
  /** The table. */
  readonly embedding: Embedding;
  /** Dropout on the embeddings (training). */
  readonly dropout: Dropout;

  constructor(config: ReformerConfig, seed?: number) {
    super();
    this.embedding = this.addModule(
      'embedding',
      new Embedding({
        numEmbeddings: config.max_position_embeddings,
        dim: config.hidden_size,
        init: { std: config.initializer_range },
        seed,
      }),
    );
    this.dropout = this.addModule('dropout', new Dropout({ rate: config.hidden_dropout_prob }));
  }

  /** Embeddings of positions `start … start + length − 1`, `[1, length, H]`. */
  forward(_batch: number, length: number, start = 0): Tensor {
    const n = this.embedding.numEmbeddings;
    if (start + length > n) {
      throw new ShapeMismatchError(`PositionEmbeddings: positions up to ${start + length} requested, but max_position_embeddings is ${n}.`);
    }
    const ids = new Int32Array(length).map((_, i) => start + i);
    return tidy(() => this.dropout.forward(expandDims(this.embedding.forward(ints(ids, [length])), 0)));
  }
}

/**
 * Hugging Face's `ReformerEmbeddings`: `dropout(word_embeddings[ids]) + position_embeddings[t]`.
 * Parameters: `word_embeddings.weight` `[V, H]` and the position tables
 * (`position_embeddings.weights.{0,1}` axial, or `position_embeddings.embedding.weight`).
 */
export class ReformerEmbeddings extends Module {
  /** Token table `[V, H]`. */
  readonly word_embeddings: Embedding;
  /** Axial or plain position embeddings. */
  readonly position_embeddings: AxialPositionEmbeddings | PositionEmbeddings;
  /** Dropout of the word embeddings. */
  readonly dropout: Dropout;
  /** Longest sequence the position embeddings cover. */
  readonly maxLength: number;

  /**
   * @param wordEmbeddings - a token table to share (e.g. an encoder–decoder model's one table for both
   *   sides); default a new `[vocab_size, hidden_size]` table.
   */
  constructor(config: ReformerConfig, wordEmbeddings?: Embedding) {
    super();
    this.word_embeddings = this.addModule(
      'word_embeddings',
      wordEmbeddings ??
        new Embedding({ numEmbeddings: config.vocab_size, dim: config.hidden_size, init: { std: config.initializer_range } }),
    );
    this.position_embeddings = this.addModule(
      'position_embeddings',
      config.axial_pos_embds ? new AxialPositionEmbeddings(config) : new PositionEmbeddings(config),
    );
    this.dropout = this.addModule('dropout', new Dropout({ rate: config.hidden_dropout_prob }));
    this.maxLength = maxLength(config);
  }

  /** int32 `ids` `[batch, length]` at positions `start …` → `[batch, length, H]`. */
  forward(ids: Tensor, start = 0): Tensor {
    const [batch, length] = ids.shape as [number, number];
    return tidy(() => add(this.dropout.forward(this.word_embeddings.forward(ids)), this.position_embeddings.forward(batch, length, start)));
  }
}
