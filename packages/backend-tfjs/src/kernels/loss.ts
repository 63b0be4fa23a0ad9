/** Cross-entropy (forward and backward) on tfjs ops, ignored rows 0. Call inside `tf.tidy`. */
import type { TfModule, TfTensor } from '../types.js';
import { batchGather } from './gather.js';
import { logSumExpOp } from './softmax.js';

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
