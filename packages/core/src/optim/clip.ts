import { tidy, withBackend } from '../engine.js';
import { InvalidArgumentError } from '../errors.js';
import { scalar } from '../ops/creation.js';
import { add, div, minimum, mul, sqrt, square } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import type { Tensor } from '../tensor.js';

/**
 * Clips gradients by their global L2 norm, as PyTorch's `clip_grad_norm_`: with
 * `norm = √(Σᵢ ‖gᵢ‖²)` and `scale = min(1, maxNorm / (norm + 1e-6))`, returns `gᵢ·scale` and the
 * (unclipped) norm as a scalar tensor. Computed with ops, without reading anything back to the host.
 * The inputs are left alone; the returned tensors are new (and belong to the enclosing `tidy` scope).
 */
export function clipGradNorm(grads: readonly Tensor[], maxNorm: number): { grads: Tensor[]; norm: Tensor } {
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm) || maxNorm < 0) {
    throw new InvalidArgumentError(`clipGradNorm: maxNorm must be a non-negative number, got ${maxNorm}.`);
  }
  const first = grads[0];
  if (!first) return { grads: [], norm: scalar(0) };
  return withBackend(first.backend, () =>
    tidy(() => {
      let total = sum(square(first));
      for (const g of grads.slice(1)) total = add(total, sum(square(g)));
      const norm = sqrt(total);
      const scale = minimum(scalar(1), div(scalar(maxNorm), add(norm, scalar(1e-6))));
      return { grads: grads.map((g) => mul(g, scale)), norm };
    }),
  );
}
