import { InvalidArgumentError, ShapeMismatchError, tensor, type Tensor, checkInteger } from '@reformer/core';

/**
 * One training or evaluation batch, as host arrays (browser-safe, backend-independent): token ids,
 * optional labels and padding mask, each int32 `[batchSize, length]` in row-major order. The training
 * loop uploads it inside the step's `tidy` scope, so a batch never outlives its step.
 */
export interface TrainBatch {
  /** Rows in the batch. */
  readonly batchSize: number;
  /** Tokens per row. */
  readonly length: number;
  /** Token ids, `batchSize · length` of them. */
  readonly ids: Int32Array;
  /**
   * Targets, −100 = not scored (default: the ids, shifted inside a causal LM's loss). A causal LM's
   * position t predicts `labels[t + 1]` (Hugging Face's shift).
   */
  readonly labels?: Int32Array;
  /** Padding mask: 1 = token, 0 = padding (default: all ones). */
  readonly attentionMask?: Int32Array;
}

/** A batch on the current backend. @internal */
export interface BatchTensors {
  ids: Tensor;
  labels?: Tensor;
  attentionMask?: Tensor;
}

/**
 * Checks a batch's shape fields and array sizes; throws `InvalidArgumentError` /
 * `ShapeMismatchError` naming `where` and the bad field.
 */
export function checkBatch(where: string, batch: TrainBatch): void {
  if (batch === null || typeof batch !== 'object')
    throw new InvalidArgumentError(
      `${where}: a batch must be an object { batchSize, length, ids, labels?, attentionMask? }, got ${String(batch)}.`,
    );
  const { batchSize, length } = batch;
  checkInteger(where, 'batchSize', batchSize, 1);
  checkInteger(where, 'length', length, 1);
  const n = batchSize * length;
  for (const field of ['ids', 'labels', 'attentionMask'] as const) {
    const a = batch[field];
    if (a === undefined && field !== 'ids') continue;
    if (!(a instanceof Int32Array))
      throw new InvalidArgumentError(
        `${where}: batch.${field} must be an Int32Array, got ${a === undefined ? 'undefined' : Object.prototype.toString.call(a)}.`,
      );
    if (a.length !== n)
      throw new ShapeMismatchError(
        `${where}: batch.${field} holds ${a.length} values, expected batchSize · length = ${batchSize} · ${length} = ${n}.`,
      );
  }
}

/** Uploads a batch to the current backend (tensors belong to the caller's `tidy` scope). @internal */
export function batchTensors(batch: TrainBatch): BatchTensors {
  const shape = [batch.batchSize, batch.length];
  return {
    ids: tensor(batch.ids, shape, 'int32'),
    ...(batch.labels !== undefined ? { labels: tensor(batch.labels, shape, 'int32') } : {}),
    ...(batch.attentionMask !== undefined ? { attentionMask: tensor(batch.attentionMask, shape, 'int32') } : {}),
  };
}

/** Tokens a batch trains on: the non-padding positions (all positions without a mask). */
export function batchTokens(batch: TrainBatch): number {
  if (batch.attentionMask === undefined) return batch.batchSize * batch.length;
  let n = 0;
  for (const m of batch.attentionMask) if (m !== 0) n++;
  return n;
}
