/** Layer norm and its backward on tfjs ops. Call inside `tf.tidy`. */
import { sizeOf, type Shape } from '@reformer/core';
import type { TfModule, TfTensor } from '../types.js';

/** Layer norm of `a` over its last axis: `[y, mean, rstd]`, the statistics reshaped to `stats`. */
export function layerNormOp(
  tf: TfModule,
  a: TfTensor,
  gamma: TfTensor,
  beta: TfTensor,
  eps: number,
  stats: number[],
): [TfTensor, TfTensor, TfTensor] {
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
