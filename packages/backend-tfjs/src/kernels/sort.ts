/** A stable argsort on tfjs ops, built from `topk`. Call inside `tf.tidy`. */
import { sizeOf, type Shape } from '@reformer/core';
import type { TfModule, TfTensor } from '../types.js';
import { batchGather } from './gather.js';

/** Above this row length the device argsort's int32 composite key would overflow (2·n² ≥ 2³¹). */
export const MAX_DEVICE_SORT = 32767;

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
