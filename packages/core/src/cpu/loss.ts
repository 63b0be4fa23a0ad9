/**
 * Cross-entropy of logits `[N, V]` against int32 labels `[N]`, and its backward.
 *
 * `loss[i] = lse[i] − logits[i, label[i]]` with `lse[i] = logsumexp(logits[i])` (doubles, rounded once);
 * rows whose label is `ignoreIndex` get loss 0 (their `lse` is still returned) and zero gradient. A
 * label outside `[0, V)` that is not `ignoreIndex` throws {@link InvalidArgumentError}.
 */
import { InvalidArgumentError } from '../errors.js';
import { rowLogSumExp } from './softmax.js';

/** Throws on the first label that is neither `ignoreIndex` nor in `[0, V)`. */
function checkLabels(op: string, labels: Int32Array, V: number, ignoreIndex: number): void {
  for (let i = 0; i < labels.length; i++) {
    const t = labels[i]!;
    if (t !== ignoreIndex && (t < 0 || t >= V)) {
      throw new InvalidArgumentError(
        `${op}: label ${t} of row ${i} is out of range for ${V} classes; labels must be in 0..${V - 1} or equal ignoreIndex (${ignoreIndex}).`,
      );
    }
  }
}

/** Per-row loss and logsumexp. */
export function crossEntropy(
  logits: Float32Array,
  labels: Int32Array,
  N: number,
  V: number,
  ignoreIndex: number,
): { loss: Float32Array; lse: Float32Array } {
  checkLabels('crossEntropy', labels, V, ignoreIndex);
  const loss = new Float32Array(N);
  const lse = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    const l = rowLogSumExp(logits, i * V, V);
    lse[i] = l;
    const t = labels[i]!;
    loss[i] = t === ignoreIndex ? 0 : l - logits[i * V + t]!;
  }
  return { loss, lse };
}

/** `dLogits[i] = dLoss[i] · (exp(logits[i] − lse[i]) − onehot(labels[i]))`, zero on ignored rows. */
export function crossEntropyBackward(
  logits: Float32Array,
  labels: Int32Array,
  lse: Float32Array,
  dLoss: Float32Array,
  N: number,
  V: number,
  ignoreIndex: number,
): Float32Array {
  checkLabels('crossEntropyBackward', labels, V, ignoreIndex);
  const out = new Float32Array(N * V);
  for (let i = 0; i < N; i++) {
    const t = labels[i]!;
    if (t === ignoreIndex) continue;
    const base = i * V;
    const l = lse[i]!;
    const d = dLoss[i]!;
    for (let j = 0; j < V; j++) out[base + j] = d * Math.exp(logits[base + j]! - l);
    out[base + t] = d * (Math.exp(logits[base + t]! - l) - 1);
  }
  return out;
}
