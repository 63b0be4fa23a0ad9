/**
 * The fused kernels as the ops layer calls them: the backend's own kernel where it has one, else
 * core's composite of it (built from the backend's primitives). Each function here is the one place
 * that makes that choice for its kernel.
 *
 * @module
 */
import type { ActivationOp, Backend, ChunkedAttentionParams, KernelTensor } from '../backend.js';
import { activationBackwardComposite } from './activation.js';
import { signedArgMaxComposite } from './argmax.js';
import { chunkedAttentionBackwardComposite, chunkedAttentionComposite } from './attention.js';
import { crossEntropyBackwardComposite, crossEntropyComposite } from './loss.js';
import { layerNormBackwardComposite, layerNormComposite } from './norm.js';
import { logSumExpComposite, softmaxComposite } from './softmax.js';

type KT = KernelTensor;

export function softmaxKernel(b: Backend, x: KT): KT {
  return b.softmax !== undefined ? b.softmax(x) : softmaxComposite(b, x);
}

export function logSumExpKernel(b: Backend, x: KT): KT {
  return b.logSumExp !== undefined ? b.logSumExp(x) : logSumExpComposite(b, x);
}

export function signedArgMaxKernel(b: Backend, x: KT): KT {
  return b.signedArgMax !== undefined ? b.signedArgMax(x) : signedArgMaxComposite(b, x);
}

export function layerNormKernel(b: Backend, x: KT, gamma: KT, beta: KT, eps: number): { y: KT; mean: KT; rstd: KT } {
  return b.layerNorm !== undefined ? b.layerNorm(x, gamma, beta, eps) : layerNormComposite(b, x, gamma, beta, eps);
}

export function layerNormBackwardKernel(b: Backend, dy: KT, x: KT, gamma: KT, mean: KT, rstd: KT): { dx: KT; dGamma: KT; dBeta: KT } {
  return b.layerNormBackward !== undefined
    ? b.layerNormBackward(dy, x, gamma, mean, rstd)
    : layerNormBackwardComposite(b, dy, x, gamma, mean, rstd);
}

export function activationBackwardKernel(b: Backend, op: ActivationOp, x: KT, dy: KT): KT {
  return b.activationBackward !== undefined ? b.activationBackward(op, x, dy) : activationBackwardComposite(b, op, x, dy);
}

export function crossEntropyKernel(b: Backend, logits: KT, labels: KT, ignoreIndex: number): { loss: KT; lse: KT } {
  return b.crossEntropy !== undefined ? b.crossEntropy(logits, labels, ignoreIndex) : crossEntropyComposite(b, logits, labels, ignoreIndex);
}

export function crossEntropyBackwardKernel(b: Backend, logits: KT, labels: KT, lse: KT, dLoss: KT, ignoreIndex: number): KT {
  return b.crossEntropyBackward !== undefined
    ? b.crossEntropyBackward(logits, labels, lse, dLoss, ignoreIndex)
    : crossEntropyBackwardComposite(b, logits, labels, lse, dLoss, ignoreIndex);
}

export function chunkedAttentionKernel(b: Backend, q: KT, k: KT, v: KT, params: ChunkedAttentionParams): { out: KT; lse: KT } {
  if (params.byPosition === true && !(b.chunkedAttention !== undefined && b.attentionByPosition === true)) {
    return inSlotOrder(b, [q, k, v], params, ([qs, ks, vs], p) => chunkedAttentionKernel(b, qs!, ks!, vs!, p));
  }
  return b.chunkedAttention !== undefined ? b.chunkedAttention(q, k, v, params) : chunkedAttentionComposite(b, q, k, v, params);
}

/**
 * Runs `fn` on `rows` (`[B, H, L, ·]`, by position) gathered into slot order by `params.positions`,
 * with `byPosition` off; the gathered copies are freed afterwards.
 */
function inSlotOrder<R>(
  b: Backend,
  rows: readonly KT[],
  params: ChunkedAttentionParams,
  fn: (slots: KT[], p: ChunkedAttentionParams) => R,
): R {
  const positions = params.positions;
  if (positions === undefined) throw new Error('chunkedAttention: byPosition needs positions (checked by the ops layer).');
  const slots: KT[] = [];
  try {
    for (const x of rows) slots.push(b.gather(x, positions, 2));
    return fn(slots, { ...params, byPosition: false });
  } finally {
    for (const x of slots) b.free(x.storage);
  }
}

export function chunkedAttentionBackwardKernel(
  b: Backend,
  q: KT,
  k: KT,
  v: KT,
  out: KT,
  lse: KT,
  dOut: KT,
  dLse: KT,
  params: ChunkedAttentionParams,
): { dq: KT; dk: KT; dv: KT } {
  if (params.byPosition === true) {
    // In slot order, then each slot's gradient added into its position's row.
    const L = q.shape[2]!;
    const g = inSlotOrder(b, [q, k, v], params, ([qs, ks, vs], p) =>
      chunkedAttentionBackwardKernel(b, qs!, ks!, vs!, out, lse, dOut, dLse, p),
    );
    const positions = params.positions!;
    try {
      return { dq: b.scatterAdd(g.dq, positions, 2, L), dk: b.scatterAdd(g.dk, positions, 2, L), dv: b.scatterAdd(g.dv, positions, 2, L) };
    } finally {
      for (const x of [g.dq, g.dk, g.dv]) b.free(x.storage);
    }
  }
  return b.chunkedAttentionBackward !== undefined
    ? b.chunkedAttentionBackward(q, k, v, out, lse, dOut, dLse, params)
    : chunkedAttentionBackwardComposite(b, q, k, v, out, lse, dOut, dLse, params);
}

export { ATTENTION_GROUP_ELEMENTS } from './attention.js';
export {
  activationBackwardComposite,
  chunkedAttentionBackwardComposite,
  chunkedAttentionComposite,
  crossEntropyBackwardComposite,
  crossEntropyComposite,
  layerNormBackwardComposite,
  layerNormComposite,
  logSumExpComposite,
  signedArgMaxComposite,
  softmaxComposite,
};
