/**
 * Index kernels on tfjs ops: batched gather (without tfjs's `batchDims`), gather, scatter-add, argmax
 * and a stable argsort built from `topk`. Call inside `tf.tidy`.
 */
import { sizeOf, type DType, type Shape } from '@reformer/core';
import type { TfModule, TfTensor } from './types.js';

/** Above this row length the device argsort's int32 composite key would overflow (2·n² ≥ 2³¹). */
export const MAX_DEVICE_SORT = 32767;

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
export function gatherOp(tf: TfModule, x: TfTensor, indices: TfTensor, outer: number, A: number, n: number, inner: number, shape: Shape): TfTensor {
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

/**
 * Argmax of `a` (shape `shape`, dtype `dtype`) along `axis`: tfjs's ArgMax keeps the first strict
 * maximum starting from element 0, so with NaN made −Infinity it is the contract's "first maximum,
 * NaN ignored, index 0 if none".
 */
export function argMaxOp(tf: TfModule, a: TfTensor, shape: Shape, dtype: DType, axis: number): TfTensor {
  const f = dtype === 'float32' ? tf.where(tf.isNaN(a), tf.fill([...shape], -Infinity), a) : a;
  return tf.argMax(f, axis);
}

/**
 * Stable argsort of `a` (shape `shape`) along its last axis of length `n` (NaN last), for
 * n ≤ {@link MAX_DEVICE_SORT}: two `topk` passes, the second on an all-distinct composite key.
 */
export function argSortOp(tf: TfModule, x: TfTensor, shape: Shape, n: number): TfTensor {
  const rows = sizeOf(shape) / n;
  const a = tf.reshape(x, [rows, n]);
  const f = a.dtype === 'float32' ? a : tf.cast(a, 'float32');
  const nan = tf.isNaN(f);
  const keys = a.dtype === 'float32' ? tf.where(nan, tf.fill([rows, n], Infinity), f) : a;
  // 1. Sort (unstably) by key with topk on the negated key: ascending values and their positions.
  const negated = a.dtype === 'float32' ? tf.neg(keys) : tf.sub(tf.scalar(0, 'int32'), keys);
  const { values, indices: perm } = tf.topk(negated, n, true);
  // 2. Dense rank of each sorted key: runs of equal values share a rank.
  const sortedKeys = values;
  const prev = tf.concat([tf.slice(sortedKeys, [0, 0], [rows, 1]), tf.slice(sortedKeys, [0, 0], [rows, n - 1])], 1);
  const changed = tf.cast(tf.notEqual(sortedKeys, prev), 'int32');
  const rank = tf.cumsum(changed, 1);
  // 3. Composite int32 key (rank, isNaN, original position): all distinct, so the order is stable.
  const nanSorted = tf.cast(batchGather(tf, tf.cast(nan, 'int32'), perm), 'int32');
  const composite = tf.add(tf.mul(tf.add(tf.mul(rank, 2), nanSorted), n), perm);
  const order = tf.topk(tf.sub(tf.scalar(0, 'int32'), composite), n, true).indices;
  return tf.reshape(batchGather(tf, perm, order), [...shape]);
}
