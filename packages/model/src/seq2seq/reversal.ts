import { checkInteger, tensor, uniformValues, type Tensor } from '@reformer/core';

/** Options of {@link reversalBatch}. */
export interface ReversalOptions {
  /** Rows per batch. */
  batchSize: number;
  /** Tokens per sequence. */
  length: number;
  /** Vocabulary size; tokens are drawn from `[firstToken, vocabSize)`. */
  vocabSize: number;
  /** Smallest token drawn (default 1: id 0 is the padding / decoder start token). */
  firstToken?: number;
  /** Seed of the batch (the same seed gives the same batch). */
  seed: number;
}

/**
 * A batch of the sequence-reversal task: random `source` ids `[batchSize, length]` and `labels`, each
 * row of the source reversed — a task an encoder–decoder must solve exactly, and one that needs
 * attention over the whole source (position t of the output reads position `length − 1 − t`).
 */
export function reversalBatch(options: ReversalOptions): { source: Tensor; labels: Tensor } {
  const { batchSize, length, vocabSize, firstToken = 1, seed } = options;
  for (const [name, v, min] of [
    ['batchSize', batchSize, 1],
    ['length', length, 1],
    ['vocabSize', vocabSize, firstToken + 2],
    ['seed', seed, 0],
  ] as const) {
    checkInteger('reversalBatch', name, v, min);
  }
  const u = uniformValues(seed, batchSize * length);
  const source = Int32Array.from(u, (x) => firstToken + Math.min(vocabSize - firstToken - 1, Math.floor(x * (vocabSize - firstToken))));
  const labels = new Int32Array(batchSize * length);
  for (let b = 0; b < batchSize; b++) for (let t = 0; t < length; t++) labels[b * length + t] = source[b * length + length - 1 - t]!;
  return { source: tensor(source, [batchSize, length], 'int32'), labels: tensor(labels, [batchSize, length], 'int32') };
}
