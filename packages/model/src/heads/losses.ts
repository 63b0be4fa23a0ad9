import {
  DTypeError,
  InvalidArgumentError,
  ShapeMismatchError,
  abs,
  add,
  cast,
  crossEntropy,
  customGrad,
  div,
  exp,
  formatShape,
  log,
  maximum,
  mean,
  minimum,
  mul,
  neg,
  notEqual,
  relu,
  reshape,
  scalar,
  sigmoid,
  square,
  sub,
  sum,
  tidy,
  type Tensor,
} from '@reformer/core';
import { IGNORE_INDEX } from '../labels.js';
import type { ProblemType } from './config.js';

/**
 * Mean cross-entropy over the rows whose target is not `ignoreIndex`: `sum / count`, so a batch with
 * no scored row gives NaN, as PyTorch's `CrossEntropyLoss` (and Hugging Face) do.
 */
function meanCrossEntropy(logits: Tensor, targets: Tensor, ignoreIndex: number): Tensor {
  return tidy(() => {
    const total = crossEntropy(logits, targets, { ignoreIndex, reduction: 'sum' });
    const count = sum(cast(notEqual(targets, scalar(ignoreIndex, 'int32')), 'float32'));
    return div(total, count);
  });
}

const bceWithLogits = customGrad((z: Tensor, y: Tensor) => ({
  value: tidy(() => mean(add(sub(relu(z), mul(z, y)), log(add(scalar(1), exp(neg(abs(z)))))))),
  save: [z, y],
  gradFunc: ([dy], [zs, ys]) => [mul(div(sub(sigmoid(zs!), ys!), scalar(zs!.size)), dy!), null],
}));

/**
 * PyTorch's `BCEWithLogitsLoss` (mean) on `logits` and same-shape float32 `targets` in [0, 1]:
 * `mean(max(z, 0) − z·y + log(1 + exp(−|z|)))` over every entry, a scalar, with the exact gradient
 * `(sigmoid(z) − y) / n` (also at z = 0, where the pieces' own derivatives are not).
 */
export function binaryCrossEntropyWithLogits(logits: Tensor, targets: Tensor): Tensor {
  if (logits.dtype !== 'float32' || targets.dtype !== 'float32') {
    throw new DTypeError(`binaryCrossEntropyWithLogits: logits and targets must be float32, got ${logits.dtype} and ${targets.dtype}.`);
  }
  if (logits.shape.length !== targets.shape.length || logits.shape.some((d, i) => d !== targets.shape[i])) {
    throw new ShapeMismatchError(
      `binaryCrossEntropyWithLogits: targets ${formatShape(targets.shape)} must have the logits' shape ${formatShape(logits.shape)}.`,
    );
  }
  return bceWithLogits(logits, targets) as Tensor;
}

/**
 * Throws a named error unless `labels` suit `problemType` for a batch of `batch` rows and
 * `numLabels` outputs (see {@link sequenceClassificationLoss}). @internal
 */
export function checkClassificationLabels(where: string, batch: number, numLabels: number, labels: Tensor, problemType: ProblemType): void {
  const rowShape = labels.rank === 1 ? labels.shape[0] === batch : labels.rank === 2 && labels.shape[0] === batch && labels.shape[1] === 1;
  const fullShape = labels.rank === 2 && labels.shape[0] === batch && labels.shape[1] === numLabels;
  if (problemType === 'single_label_classification') {
    if (labels.dtype !== 'int32') {
      throw new DTypeError(
        `${where}: single-label classification needs int32 class indices [${batch}], got ${labels.dtype}; for multi-hot targets use problem_type "multi_label_classification".`,
      );
    }
    if (!rowShape)
      throw new ShapeMismatchError(
        `${where}: single-label classification needs labels [${batch}] (one class per row), got ${formatShape(labels.shape)}.`,
      );
  } else if (problemType === 'multi_label_classification') {
    if (!fullShape)
      throw new ShapeMismatchError(
        `${where}: multi-label classification needs multi-hot labels [${batch}, ${numLabels}], got ${formatShape(labels.shape)}.`,
      );
  } else if (problemType === 'regression') {
    if (numLabels === 1 && !rowShape) {
      throw new ShapeMismatchError(
        `${where}: regression with one output needs targets [${batch}] or [${batch}, 1], got ${formatShape(labels.shape)}.`,
      );
    }
    if (numLabels > 1 && !fullShape) {
      throw new ShapeMismatchError(
        `${where}: regression with ${numLabels} outputs needs targets [${batch}, ${numLabels}], got ${formatShape(labels.shape)}.`,
      );
    }
  } else {
    throw new InvalidArgumentError(
      `${where}: unknown problem_type ${JSON.stringify(problemType)}; expected single_label_classification, multi_label_classification or regression.`,
    );
  }
}

/**
 * Hugging Face's sequence-classification loss for `problem_type` on `logits` `[batch, numLabels]`:
 * - `single_label_classification`: int32 `labels` `[batch]` (or `[batch, 1]`), class indices, −100 =
 *   not scored; the mean cross-entropy over the scored rows (NaN if none is, as in PyTorch).
 * - `multi_label_classification`: `labels` `[batch, numLabels]` multi-hot (float32; int32 is cast);
 *   binary cross-entropy on the logits, averaged over all `batch · numLabels` entries.
 * - `regression`: `labels` `[batch]` or `[batch, 1]` when `numLabels` = 1, else `[batch, numLabels]`
 *   (float32; int32 is cast); the mean squared error.
 */
export function sequenceClassificationLoss(logits: Tensor, labels: Tensor, problemType: ProblemType): Tensor {
  const where = 'sequenceClassificationLoss';
  if (logits.rank !== 2) throw new ShapeMismatchError(`${where}: logits must be [batch, numLabels], got ${formatShape(logits.shape)}.`);
  const [batch, numLabels] = logits.shape as [number, number];
  checkClassificationLabels(where, batch, numLabels, labels, problemType);
  return tidy(() => {
    if (problemType === 'single_label_classification') return meanCrossEntropy(logits, reshape(labels, [batch]), IGNORE_INDEX);
    const y = labels.dtype === 'float32' ? labels : cast(labels, 'float32');
    if (problemType === 'multi_label_classification') return binaryCrossEntropyWithLogits(logits, y);
    return mean(square(sub(logits, reshape(y, [batch, numLabels]))));
  });
}

/**
 * Hugging Face's `problem_type` rule for a config without one, at the first call with labels: one
 * label → regression; several and int32 labels → single-label; otherwise (float labels) multi-label.
 */
export function inferProblemType(numLabels: number, labels: Tensor): ProblemType {
  if (numLabels === 1) return 'regression';
  return labels.dtype === 'int32' ? 'single_label_classification' : 'multi_label_classification';
}

/**
 * Hugging Face's question-answering span loss on `startLogits` / `endLogits` `[batch, length]`:
 * int32 positions `[batch]` (or `[batch, 1]`) are clamped into `[0, length]` (a negative position
 * becomes 0 and is scored; one beyond the sequence becomes `length` and is not), rows at `length` are
 * left out, and `loss = (CE_start + CE_end) / 2` with each CE the mean over its scored rows. A side with
 * no scored row gives NaN, as in Hugging Face.
 */
export function spanLoss(startLogits: Tensor, endLogits: Tensor, startPositions: Tensor, endPositions: Tensor): Tensor {
  const where = 'spanLoss';
  if (
    startLogits.rank !== 2 ||
    endLogits.rank !== 2 ||
    startLogits.shape[0] !== endLogits.shape[0] ||
    startLogits.shape[1] !== endLogits.shape[1]
  ) {
    throw new ShapeMismatchError(
      `${where}: startLogits and endLogits must both be [batch, length], got ${formatShape(startLogits.shape)} and ${formatShape(endLogits.shape)}.`,
    );
  }
  const [batch, length] = startLogits.shape as [number, number];
  checkSpanPositions(where, batch, startPositions, endPositions);
  return tidy(() => {
    const clamp = (p: Tensor): Tensor => minimum(maximum(reshape(p, [batch]), scalar(0, 'int32')), scalar(length, 'int32'));
    const start = meanCrossEntropy(startLogits, clamp(startPositions), length);
    const end = meanCrossEntropy(endLogits, clamp(endPositions), length);
    return div(add(start, end), scalar(2));
  });
}

/** Throws a named error unless both positions are int32 `[batch]` or `[batch, 1]`. @internal */
export function checkSpanPositions(where: string, batch: number, startPositions: Tensor, endPositions: Tensor): void {
  for (const [name, p] of [
    ['startPositions', startPositions],
    ['endPositions', endPositions],
  ] as const) {
    if (p.dtype !== 'int32') throw new DTypeError(`${where}: ${name} must be int32 token indices [${batch}], got ${p.dtype}.`);
    const ok = (p.rank === 1 && p.shape[0] === batch) || (p.rank === 2 && p.shape[0] === batch && p.shape[1] === 1);
    if (!ok) throw new ShapeMismatchError(`${where}: ${name} must be [${batch}] (or [${batch}, 1]), got ${formatShape(p.shape)}.`);
  }
}
