import { formatValue } from '../format.js';
import { ShapeMismatchError, InvalidArgumentError } from '../errors.js';
import { zeros } from '../ops/creation.js';
import { add } from '../ops/elementwise.js';
import { reshape } from '../ops/layout.js';
import { matmul } from '../ops/matmul.js';
import type { Tensor, Variable } from '../tensor.js';
import { formatShape, sizeOf } from '../types.js';
import { checkInteger } from '../validate.js';
import { checkStd, initNormal, initUniform, parameterSeeds, type WeightInit } from './init.js';
import { Module } from './module.js';

/** Options of {@link Linear}. */
export interface LinearOptions {
  /** Size of the input's last axis. */
  inFeatures: number;
  /** Size of the output's last axis. */
  outFeatures: number;
  /** Whether to add a learned bias (default true). */
  bias?: boolean;
  /**
   * Weight initialisation. `'uniform'` (default, as PyTorch): weight and bias from
   * U(−1/√inFeatures, 1/√inFeatures). `{ std }` (as Hugging Face's `_init_weights`): weight from
   * N(0, std²), bias zeros.
   */
  init?: WeightInit;
  /** Seed of the initial weights (default: `nextSeed()`). The same seed gives the same weights on every backend. */
  seed?: number;
}

/**
 * Affine map over the last axis: `y = x·Wᵀ + b`, with `weight` `[outFeatures, inFeatures]` (the
 * PyTorch / Hugging Face layout, so checkpoints load without transposing) and `bias` `[outFeatures]`.
 */
export class Linear extends Module {
  /** Size of the input's last axis. */
  readonly inFeatures: number;
  /** Size of the output's last axis. */
  readonly outFeatures: number;
  /** `[outFeatures, inFeatures]`. */
  readonly weight: Variable;
  /** `[outFeatures]`, or null without bias. */
  readonly bias: Variable | null;

  /** Creates the layer and its parameters (`weight`, then `bias`) on the current backend. */
  constructor(options: LinearOptions) {
    super();
    const { inFeatures, outFeatures, bias = true, init = 'uniform', seed } = options;
    checkInteger('Linear', 'inFeatures', inFeatures, 1);
    checkInteger('Linear', 'outFeatures', outFeatures, 1);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const [wSeed, bSeed] = parameterSeeds('Linear', seed, 2) as [number, number];
    if (init === 'uniform') {
      const bound = 1 / Math.sqrt(inFeatures);
      this.weight = this.addParameter('weight', initUniform([outFeatures, inFeatures], { seed: wSeed, min: -bound, max: bound }));
      this.bias = bias ? this.addParameter('bias', initUniform([outFeatures], { seed: bSeed, min: -bound, max: bound })) : null;
    } else if (typeof init === 'object' && init !== null) {
      const std = checkStd('Linear', init);
      this.weight = this.addParameter('weight', initNormal([outFeatures, inFeatures], { seed: wSeed, std }));
      this.bias = bias ? this.addParameter('bias', zeros([outFeatures])) : null;
    } else {
      throw new InvalidArgumentError(`Linear: init must be 'uniform' or { std }, got ${formatValue(init)}.`);
    }
  }

  /** `x` `[..., inFeatures]` → `[..., outFeatures]`. */
  forward(x: Tensor): Tensor {
    if (x.rank < 1 || x.shape[x.rank - 1] !== this.inFeatures) {
      throw new ShapeMismatchError(`Linear.forward: input ${formatShape(x.shape)} must end with inFeatures = ${this.inFeatures}.`);
    }
    const lead = x.shape.slice(0, -1);
    const x2 = x.rank === 2 ? x : reshape(x, [sizeOf(lead), this.inFeatures]);
    let y = matmul(x2, this.weight, false, true);
    if (x2 !== x) x2.dispose();
    if (this.bias) {
      const biased = add(y, this.bias);
      y.dispose();
      y = biased;
    }
    if (x.rank === 2) return y;
    const out = reshape(y, [...lead, this.outFeatures]);
    y.dispose();
    return out;
  }
}
