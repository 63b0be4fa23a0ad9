import { ones, zeros } from '../ops/creation.js';
import { layerNorm } from '../ops/fused.js';
import type { Tensor, Variable } from '../tensor.js';
import { checkInteger, checkNonNegative } from '../validate.js';
import { Module } from './module.js';

/** Options of {@link LayerNorm}. */
export interface LayerNormOptions {
  /** Size of the normalised (last) axis. */
  dim: number;
  /** Added to the variance (default 1e-12, Hugging Face Reformer's `layer_norm_eps`). */
  eps?: number;
}

/**
 * Layer normalisation over the last axis with a learned scale `weight` (ones) and shift `bias`
 * (zeros), both `[dim]`: `(x − mean)/√(var + eps) · weight + bias` (biased variance), by the fused
 * `layerNorm` op.
 */
export class LayerNorm extends Module {
  /** Size of the normalised axis. */
  readonly dim: number;
  /** Added to the variance. */
  readonly eps: number;
  /** Scale `[dim]`, initially ones. */
  readonly weight: Variable;
  /** Shift `[dim]`, initially zeros. */
  readonly bias: Variable;

  /** Creates the layer and its parameters (`weight`, then `bias`) on the current backend. */
  constructor(options: LayerNormOptions) {
    super();
    const { dim, eps = 1e-12 } = options;
    checkInteger('LayerNorm', 'dim', dim, 1);
    checkNonNegative('LayerNorm', 'eps', eps);
    this.dim = dim;
    this.eps = eps;
    this.weight = this.addParameter('weight', ones([dim]));
    this.bias = this.addParameter('bias', zeros([dim]));
  }

  /** `x` `[..., dim]` → normalised `[..., dim]`. */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}
