import { Dropout, Linear, Module, deriveSeed, reshape, tidy, transpose, type Tensor, type WeightInit } from '@reformer/core';

/** Weight init of the projections: `{ std }` when given, else PyTorch's uniform default. @internal */
export function weightInit(initStd: number | undefined): WeightInit {
  return initStd === undefined ? 'uniform' : { std: initStd };
}

/** Seed of the i-th projection of a layer: derived from the layer's seed, or drawn when none. @internal */
export function projectionSeed(seed: number | undefined, i: number): number | undefined {
  return seed === undefined ? undefined : deriveSeed(seed, i);
}

/**
 * `[batch, length, heads · size]` → `[batch, heads, length, size]`: feature `f` belongs to head
 * `⌊f / size⌋`, component `f mod size` (Hugging Face's `view(B, T, nH, d).transpose(1, 2)`).
 * @internal
 */
export function splitHeads(x: Tensor, heads: number, size: number): Tensor {
  const [batch, length] = x.shape as [number, number, number];
  const r = reshape(x, [batch, length, heads, size]);
  const t = transpose(r, [0, 2, 1, 3]);
  r.dispose();
  return t;
}

/**
 * `projection(x)` with its heads split, `[batch, heads, length, size]`: the projection's unsplit output
 * is freed at once rather than at the end of the caller's `tidy` (a full-size tensor per projection,
 * 256 MiB each at 65,536 tokens of width 1024). @internal
 */
export function projectHeads(projection: { forward(x: Tensor): Tensor }, x: Tensor, heads: number, size: number): Tensor {
  return tidy(() => splitHeads(projection.forward(x), heads, size));
}

/** `[batch, heads, length, size]` → `[batch, length, heads · size]`, the exact inverse of {@link splitHeads}. @internal */
export function mergeHeads(x: Tensor): Tensor {
  const [batch, heads, length, size] = x.shape as [number, number, number, number];
  const t = transpose(x, [0, 2, 1, 3]);
  const r = reshape(t, [batch, length, heads * size]);
  t.dispose();
  return r;
}

/** Options of the projection modules. */
export interface ProjectionOptions {
  /** Input size (`hiddenSize`). */
  hiddenSize: number;
  /** Output size, `numHeads · headSize`. */
  allHeadSize: number;
  /** Standard deviation of normal initial weights; default PyTorch's uniform init. */
  initStd?: number | undefined;
  /** Seed of the initial weights (default: `nextSeed()` per projection). */
  seed?: number | undefined;
}

/**
 * The projections of LSH attention (Hugging Face's inner `LSHSelfAttention` module): one shared
 * query/key projection `query_key` and a value projection `value`, both `Linear(hiddenSize →
 * numHeads·headSize)` without bias, weights `[out, in]`.
 */
export class SharedQKProjection extends Module {
  /** Shared query/key projection, weight `[numHeads·headSize, hiddenSize]`. */
  readonly query_key: Linear;
  /** Value projection, weight `[numHeads·headSize, hiddenSize]`. */
  readonly value: Linear;

  /** Creates both projections. */
  constructor(options: ProjectionOptions) {
    super();
    const init = weightInit(options.initStd);
    const common = { inFeatures: options.hiddenSize, outFeatures: options.allHeadSize, bias: false, init };
    this.query_key = this.addModule('query_key', new Linear({ ...common, seed: projectionSeed(options.seed, 0) }));
    this.value = this.addModule('value', new Linear({ ...common, seed: projectionSeed(options.seed, 1) }));
  }
}

/**
 * The projections of local and full attention (Hugging Face's inner `LocalSelfAttention` module):
 * `query`, `key` and `value`, each `Linear(hiddenSize → numHeads·headSize)` without bias.
 */
export class QKVProjection extends Module {
  /** Query projection, weight `[numHeads·headSize, hiddenSize]`. */
  readonly query: Linear;
  /** Key projection, weight `[numHeads·headSize, hiddenSize]`. */
  readonly key: Linear;
  /** Value projection, weight `[numHeads·headSize, hiddenSize]`. */
  readonly value: Linear;

  /** Creates the three projections. */
  constructor(options: ProjectionOptions) {
    super();
    const init = weightInit(options.initStd);
    const common = { inFeatures: options.hiddenSize, outFeatures: options.allHeadSize, bias: false, init };
    this.query = this.addModule('query', new Linear({ ...common, seed: projectionSeed(options.seed, 0) }));
    this.key = this.addModule('key', new Linear({ ...common, seed: projectionSeed(options.seed, 1) }));
    this.value = this.addModule('value', new Linear({ ...common, seed: projectionSeed(options.seed, 2) }));
  }
}

/** Options of {@link AttentionOutput}. */
export interface AttentionOutputOptions extends ProjectionOptions {
  /** Dropout rate after the projection (default 0). */
  dropout?: number;
}

/**
 * The output block (Hugging Face's `ReformerSelfOutput`): `dense` `Linear(numHeads·headSize →
 * hiddenSize)` without bias, then dropout (a core {@link Dropout}: masks drawn with `nextSeed()`, so
 * they replay under the same `seedScope`).
 */
export class AttentionOutput extends Module {
  /** Output projection, weight `[hiddenSize, numHeads·headSize]`. */
  readonly dense: Linear;
  /** Dropout after `dense` (no parameters). */
  readonly dropout: Dropout;

  /** Creates the projection and the dropout. */
  constructor(options: AttentionOutputOptions) {
    super();
    this.dense = this.addModule(
      'dense',
      new Linear({
        inFeatures: options.allHeadSize,
        outFeatures: options.hiddenSize,
        bias: false,
        init: weightInit(options.initStd),
        seed: options.seed,
      }),
    );
    this.dropout = this.addModule('dropout', new Dropout({ rate: options.dropout ?? 0 }));
  }

  /** `[batch, length, numHeads·headSize]` → `dropout(dense(x))` `[batch, length, hiddenSize]`. */
  forward(x: Tensor): Tensor {
    const y = this.dense.forward(x);
    const out = this.dropout.forward(y);
    y.dispose();
    return out;
  }
}
