/**
 * Softmax and logsumexp over the last axis on tfjs ops, with the contract's handling of all −Infinity
 * rows. Call inside `tf.tidy`.
 */
import type { TfModule, TfTensor } from '../types.js';

/** Row max with −Infinity (all −Infinity rows) replaced by 0, keepDims. */
function safeMax(tf: TfModule, a: TfTensor, axis = -1): TfTensor {
  const m = tf.max(a, axis, true);
  return tf.where(tf.isFinite(m), m, tf.zerosLike(m));
}

/** Softmax over the last axis; rows whose exponentials sum to 0 (all −Infinity) give zeros. */
export function softmaxOp(tf: TfModule, a: TfTensor): TfTensor {
  const e = tf.exp(tf.sub(a, safeMax(tf, a)));
  const s = tf.sum(e, -1, true);
  return tf.where(tf.greater(s, 0), tf.div(e, s), tf.zerosLike(e));
}

/** logsumexp over the last axis, keepDims; all −Infinity rows give −Infinity, +Infinity/NaN propagate. */
export function logSumExpOp(tf: TfModule, a: TfTensor): TfTensor {
  const m = tf.max(a, -1, true);
  const ms = tf.where(tf.isFinite(m), m, tf.zerosLike(m));
  const l = tf.add(ms, tf.log(tf.sum(tf.exp(tf.sub(a, ms)), -1, true)));
  return tf.where(tf.isFinite(m), l, m);
}
