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
  return b.chunkedAttention !== undefined ? b.chunkedAttention(q, k, v, params) : chunkedAttentionComposite(b, q, k, v, params);
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
