/**
 * Gather and scatter-add on tfjs ops, through a batched gather without tfjs's `batchDims`. Call inside
 * `tf.tidy`.
 */
import type { Shape } from '@reformer/core';
import type { TfModule, TfTensor } from '../types.js';

/**
 * Batched gather without tfjs's `batchDims` (broken on wasm): `a` `[outer, A, inner]` (or `[outer, A]`),
 * `idx` int32 `[outer, n]` → `[outer, n, inner]` (or `[outer, n]`), through one flat `gather`.
 */
export function batchGather(tf: TfModule, a: TfTensor, idx: TfTensor): TfTensor {
  const [outer, A] = a.shape as [number, number];
  const n = idx.shape[1]!;
  const inner = a.shape.length > 2 ? a.shape[2]! : 1;
  const base = tf.mul(tf.reshape(tf.range(0, outer, 1, 'int32'), [outer, 1]), tf.scalar(A, 'int32'));
  const flat = tf.reshape(tf.add(idx, base), [outer * n]);
  const g = tf.gather(tf.reshape(a, [outer * A, inner]), flat, 0);
  return tf.reshape(g, a.shape.length > 2 ? [outer, n, inner] : [outer, n]);
}

/** Gather of `x` viewed as `[outer, A, inner]` at `indices` viewed as `[outer, n]`, reshaped to `shape`. */
export function gatherOp(
  tf: TfModule,
  x: TfTensor,
  indices: TfTensor,
  outer: number,
  A: number,
  n: number,
  inner: number,
  shape: Shape,
): TfTensor {
  const a = tf.reshape(x, [outer, A, inner]);
  const idx = tf.reshape(indices, [outer, n]);
  return tf.reshape(batchGather(tf, a, idx), [...shape]);
}

/**
 * Scatter-add of `updates` viewed as `[outer, n, inner]` into `[outer, size, inner]` at rows `indices`
 * viewed as `[outer, n]`, reshaped to `shape` (ScatterNd sums duplicate indices).
 */
export function scatterAddOp(
  tf: TfModule,
  updates: TfTensor,
  indices: TfTensor,
  outer: number,
  n: number,
  inner: number,
  size: number,
  shape: Shape,
): TfTensor {
  const u = tf.reshape(updates, [outer * n, inner]);
  const idx = tf.reshape(indices, [outer, n]);
  const rowsOf = tf.broadcastTo(tf.reshape(tf.range(0, outer, 1, 'int32'), [outer, 1]), [outer, n]);
  const nd = tf.reshape(tf.stack([rowsOf, idx], 2), [outer * n, 2]);
  // ScatterNd sums duplicate indices (wasm lacks UnsortedSegmentSum).
  return tf.reshape(tf.scatterND(nd, u, [outer, size, inner]), [...shape]);
}
