/**
 * Reductions on tfjs ops: sum/max/min over axes (empty inputs give the op's identity) and argmax.
 * Call inside `tf.tidy`.
 */
import { sizeOf, type DType, type ReduceOp, type Shape } from '@reformer/core';
import type { TfModule, TfTensor } from '../types.js';

/** `op` of `a` (shape `xShape`, dtype `dtype`) over `axes`, with the result shape `shape`; empty inputs give the op's identity. */
export function reduceOp(
  tf: TfModule,
  op: ReduceOp,
  a: TfTensor,
  xShape: Shape,
  dtype: DType,
  axes: readonly number[],
  shape: number[],
): TfTensor {
  if (axes.length === 0) return tf.clone(a);
  if (sizeOf(xShape) === 0) {
    const fillValue = op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity;
    return tf.fill(shape, fillValue, dtype);
  }
  const ax = [...axes];
  if (op === 'sum') return tf.sum(a, ax);
  if (op === 'max') return tf.max(a, ax);
  return tf.min(a, ax);
}

/**
 * Argmax of `a` (shape `shape`, dtype `dtype`) along `axis`: tfjs's ArgMax keeps the first strict
 * maximum starting from element 0, so with NaN made −Infinity it is the contract's "first maximum,
 * NaN ignored, index 0 if none".
 */
export function argMaxOp(tf: TfModule, a: TfTensor, shape: Shape, dtype: DType, axis: number): TfTensor {
  const f = dtype === 'float32' ? tf.where(tf.isNaN(a), tf.fill([...shape], -Infinity), a) : a;
  return tf.argMax(f, axis);
}
