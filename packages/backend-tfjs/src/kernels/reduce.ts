/**
 * Reductions and the row-wise fused kernels on tfjs ops: sum/max/min over axes, softmax, logsumexp,
 * layer norm and cross-entropy (forward and backward), with the contract's handling of empty and
 * all −Infinity rows. Call inside `tf.tidy`.
 */
import { sizeOf, type DType, type ReduceOp, type Shape } from '@reformer/core';
import { batchGather } from './tf-indexing.js';
import type { TfModule, TfTensor } from './types.js';

/** `op` of `a` (shape `xShape`, dtype `dtype`) over `axes`, with the result shape `shape`; empty inputs give the op's identity. */
export function reduceOp(tf: TfModule, op: ReduceOp, a: TfTensor, xShape: Shape, dtype: DType, axes: readonly number[], shape: number[]): TfTensor {
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

/** Layer norm of `a` over its last axis: `[y, mean, rstd]`, the statistics reshaped to `stats`. */
export function layerNormOp(tf: TfModule, a: TfTensor, gamma: TfTensor, beta: TfTensor, eps: number, stats: number[]): [TfTensor, TfTensor, TfTensor] {
  const mu = tf.mean(a, -1, true);
  const c = tf.sub(a, mu);
  const variance = tf.mean(tf.mul(c, c), -1, true);
  const rs = tf.div(1, tf.sqrt(tf.add(variance, eps)));
  const out = tf.add(tf.mul(tf.mul(c, rs), gamma), beta);
  return [out, tf.reshape(mu, stats), tf.reshape(rs, stats)];
}

/**
 * Layer norm backward for `x` of shape `shape` (non-empty) from its saved `mean` and `rstd`:
 * `[dx, dGamma, dBeta]`, the parameter gradients flat `[D]` (the caller reshapes them).
 */
export function layerNormGrad(
  tf: TfModule,
  dy: TfTensor,
  x: TfTensor,
  gamma: TfTensor,
  mean: TfTensor,
  rstd: TfTensor,
  shape: Shape,
): [TfTensor, TfTensor, TfTensor] {
  const D = shape[shape.length - 1]!;
  const rows = sizeOf(shape) / D;
  const a = tf.reshape(x, [rows, D]);
  const d = tf.reshape(dy, [rows, D]);
  const mu = tf.reshape(mean, [rows, 1]);
  const rs = tf.reshape(rstd, [rows, 1]);
  const xhat = tf.mul(tf.sub(a, mu), rs);
  const g = tf.mul(d, tf.reshape(gamma, [1, D]));
  const mg = tf.mean(g, -1, true);
  const mgx = tf.mean(tf.mul(g, xhat), -1, true);
  const dxv = tf.mul(rs, tf.sub(tf.sub(g, mg), tf.mul(xhat, mgx)));
  return [tf.reshape(dxv, [...shape]), tf.sum(tf.mul(d, xhat), 0), tf.sum(d, 0)];
}

/** Cross-entropy of `[N, V]` logits `a` against int32 `labels` `[N]`: `[loss, lse]`, ignored rows' loss 0. */
export function crossEntropyOp(tf: TfModule, a: TfTensor, labels: TfTensor, N: number, ignoreIndex: number): [TfTensor, TfTensor] {
  const l = logSumExpOp(tf, a);
  const ignored = tf.equal(labels, ignoreIndex);
  const safe = tf.where(ignored, tf.zerosLike(labels), labels);
  const picked = batchGather(tf, a, tf.reshape(safe, [N, 1]));
  const ls = tf.reshape(tf.sub(l, picked), [N]);
  return [tf.where(ignored, tf.zerosLike(ls), ls), tf.reshape(l, [N])];
}

/** Gradient of the cross-entropy with respect to `[N, V]` logits `a`: `dLoss · (softmax − onehot)`, ignored rows 0. */
export function crossEntropyGrad(
  tf: TfModule,
  a: TfTensor,
  labels: TfTensor,
  lseRows: TfTensor,
  dLoss: TfTensor,
  N: number,
  V: number,
  ignoreIndex: number,
): TfTensor {
  const ignored = tf.reshape(tf.equal(labels, ignoreIndex), [N, 1]);
  const p = tf.exp(tf.sub(a, tf.reshape(lseRows, [N, 1])));
  const hot = tf.equal(tf.reshape(tf.range(0, V, 1, 'int32'), [1, V]), tf.reshape(labels, [N, 1]));
  const g = tf.mul(tf.reshape(dLoss, [N, 1]), tf.where(hot, tf.sub(p, 1), p));
  return tf.where(tf.broadcastTo(ignored, [N, V]), tf.zerosLike(g), g);
}
