/**
 * Composite cross-entropy and its backward, from primitives, with the fused kernels' rules:
 * `loss[i] = logsumexp(logits[i]) − logits[i, label[i]]`, 0 on rows labelled `ignoreIndex` (whose
 * logsumexp is still returned); `dLogits[i] = dLoss[i]·(exp(logits[i] − lse[i]) − onehot(label[i]))`,
 * zero on ignored rows. A label outside `[0, V)` that is not `ignoreIndex` is an `InvalidArgumentError`
 * (found by `gather`: at the call, or at the next readback on backends that check on the device).
 *
 * @module
 */
import type { Backend, KernelTensor } from '../backend.js';
import { InvalidArgumentError } from '../errors.js';
import { kernelScope, reshape, type Kernels } from './scope.js';
import { rowLogSumExp } from './softmax.js';

type KT = KernelTensor;

/** `[N, 1]` int32: 1 on ignored rows; and the labels with ignored rows sent to class 0. */
function labelsOf(k: Kernels, labels: KT, ignoreIndex: number): { ignored: KT; safe: KT } {
  const col = reshape(labels, [labels.shape[0]!, 1]);
  const ignored = k.binary('equal', col, k.scalar(ignoreIndex, 'int32'));
  return { ignored, safe: k.where(ignored, k.scalar(0, 'int32'), col) };
}

/** `logits[i, label[i]]` `[N, 1]`; a label outside `[0, V)` is an `InvalidArgumentError` naming the rule. */
function pickLabels(k: Kernels, logits: KT, labels: KT, ignoreIndex: number): KT {
  try {
    return k.gather(logits, labels, 1);
  } catch (e) {
    if (!(e instanceof InvalidArgumentError)) throw e;
    const V = logits.shape[1]!;
    throw new InvalidArgumentError(
      `crossEntropy: a label is out of range for ${V} classes; labels must be in 0..${V - 1} or equal ignoreIndex (${ignoreIndex}). (${e.message})`,
    );
  }
}

/** Per-row loss `[N]` and logsumexp `[N]` of logits `[N, V]`. */
export function crossEntropyComposite(backend: Backend, logits: KT, labels: KT, ignoreIndex: number): { loss: KT; lse: KT } {
  return kernelScope(backend, [logits, labels], (k) => {
    const N = logits.shape[0]!;
    const { ignored, safe } = labelsOf(k, labels, ignoreIndex);
    const lse = rowLogSumExp(k, logits); // [N, 1]
    const picked = pickLabels(k, logits, safe, ignoreIndex); // [N, 1]
    const loss = k.where(ignored, k.scalar(0), k.binary('sub', lse, picked));
    return { loss: reshape(loss, [N]), lse: reshape(lse, [N]) };
  });
}

/** `dLoss · (softmax − onehot)` per row, zero on ignored rows. */
export function crossEntropyBackwardComposite(backend: Backend, logits: KT, labels: KT, lse: KT, dLoss: KT, ignoreIndex: number): KT {
  return kernelScope(backend, [logits, labels, lse, dLoss], (k) => {
    const [N, V] = logits.shape as [number, number];
    const { ignored, safe } = labelsOf(k, labels, ignoreIndex);
    const classes = k.write(
      Int32Array.from({ length: V }, (_, j) => j),
      [1, V],
      'int32',
    );
    const onehot = k.cast(k.binary('equal', classes, safe), 'float32');
    const p = k.unary('exp', k.binary('sub', logits, reshape(lse, [N, 1])));
    const d = k.binary('mul', reshape(dLoss, [N, 1]), k.binary('sub', p, onehot));
    return k.where(ignored, k.scalar(0), d);
  });
}
