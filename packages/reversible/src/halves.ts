import { add, checkEnum, clone, concat, mul, scalar, tidy, type Tensor } from '@reformer/core';
import { checkHalves } from './block.js';

/**
 * The two input halves of a reversible stack, both equal to `x` (trax / Hugging Face: `X1 = X2 = x`).
 * Returns two new handles on `x`'s storage (free views, no copy), each owned by the caller; gradients
 * through both are summed into `x`'s.
 */
export function duplicate(x: Tensor): [Tensor, Tensor] {
  return [clone(x), clone(x)];
}

/** Options of {@link mergeHalves}. */
export interface MergeHalvesOptions {
  /**
   * `'concat'` (default, trax / Hugging Face): `concat([y1, y2], −1)`, `[..., 2d]`; the caller then
   * applies its final LayerNorm over `2d`. `'mean'`: `(y1 + y2) / 2`, `[..., d]`.
   */
  mode?: 'concat' | 'mean';
}

/**
 * Merges the two output halves of a reversible stack: concatenated on the last axis (the default, as
 * trax and Hugging Face, followed by the caller's LayerNorm), or averaged (`mode: 'mean'`).
 * Throws `ShapeMismatchError` when the halves differ in shape, `InvalidArgumentError` on a bad mode.
 */
export function mergeHalves(y1: Tensor, y2: Tensor, options: MergeHalvesOptions = {}): Tensor {
  const { mode = 'concat' } = options;
  checkHalves('mergeHalves', y1, y2);
  if (checkEnum('mergeHalves', 'mode', mode, ['concat', 'mean']) === 'concat') return concat([y1, y2], -1);
  return tidy(() => mul(add(y1, y2), scalar(0.5)));
}
