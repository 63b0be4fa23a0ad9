/**
 * The Reformer paper's synthetic duplication task (Kitaev et al. 2020, §5): sequences `0 w 0 w` where
 * `w` is a run of `length/2 − 1` symbols drawn uniformly from `1 … vocabSize − 1`. The first copy of
 * `w` is random and cannot be predicted; the second copy can, by attending to the first. Loss and
 * accuracy are measured on the second copy of `w` only.
 * @module
 */
import { InvalidArgumentError, deriveSeed, randomBits, checkEnum, checkInteger } from '@reformer/core';
import { IGNORE_INDEX } from '../labels.js';
import type { TrainBatch } from '../train/batch.js';
import { evaluateCausal, type EvaluateOptions, type LanguageModel, type Metrics, type Task } from './task.js';

/** Options of {@link duplicationTask}. */
export interface DuplicationOptions {
  /** Sequence length L (even, ≥ 4): `w` has `L/2 − 1` symbols. The paper uses 1024; default 256. */
  length?: number;
  /** Vocabulary size V (≥ 2): symbols are `1 … V − 1`, `0` is the separator. Default 64. */
  vocabSize?: number;
  /** Seed of every batch (default 0). Training and validation batches come from separate streams. */
  seed?: number;
  /** Default rows per evaluation batch (default 16). */
  evalBatchSize?: number;
  /** Default evaluation batches (default 4). */
  evalBatches?: number;
}

/** The duplication task (see {@link duplicationTask}). */
export interface DuplicationTask extends Task {
  readonly name: 'duplication';
  /** Symbols per copy of `w`: `length/2 − 1`. */
  readonly wordLength: number;
  /** The seed of its batches. */
  readonly seed: number;
  /**
   * `{ loss, accuracy }` on validation batches: the mean cross-entropy (nats) over the second copy of
   * `w`, and the fraction of its symbols the causal LM predicts correctly by argmax.
   */
  evaluate(model: LanguageModel, options?: EvaluateOptions): Promise<Metrics>;
}

const SPLIT_STREAM = { train: 0, valid: 1 } as const;

/**
 * The duplication task: batch `index` of a split holds `batchSize` rows `0 w 0 w`, each symbol of `w`
 * drawn uniformly from `1 … vocabSize − 1` by core's Philox generator (`randomBits(deriveSeed(seed,
 * index), …, stream)`, stream 0 for `train`, 1 for `valid`; symbol = `bits mod (vocabSize − 1) + 1`), so
 * a batch depends only on `(seed, split, index, batchSize)`. Labels are −100 everywhere except on the
 * second copy of `w` (positions `L/2 + 1 … L − 1`), which the causal LM predicts from the position
 * before.
 *
 * @example
 * ```ts
 * const task = duplicationTask({ length: 256, vocabSize: 64, seed: 1 });
 * const batch = task.batch('train', 0, 16); // { batchSize: 16, length: 256, ids, labels }
 * const { loss, accuracy } = await task.evaluate(model, { nHashes: 8 });
 * ```
 * @throws {InvalidArgumentError} for an odd or too short length, a vocabulary below 2, a bad seed.
 */
export function duplicationTask(options: DuplicationOptions = {}): DuplicationTask {
  const where = 'duplicationTask';
  const length = checkInteger(where, 'length', options.length ?? 256, 4);
  if (length % 2 !== 0) throw new InvalidArgumentError(`${where}: length must be even (two copies of 0 w), got ${length}.`);
  const vocabSize = checkInteger(where, 'vocabSize', options.vocabSize ?? 64, 2);
  const seed = checkInteger(where, 'seed', options.seed ?? 0, 0);
  const evalBatchSize = checkInteger(where, 'evalBatchSize', options.evalBatchSize ?? 16, 1);
  const evalBatches = checkInteger(where, 'evalBatches', options.evalBatches ?? 4, 1);
  const half = length / 2;
  const wordLength = half - 1;
  const symbols = vocabSize - 1;

  const task: DuplicationTask = {
    name: 'duplication',
    vocabSize,
    length,
    wordLength,
    seed,
    batch(split, index, batchSize) {
      const w = `${where}.batch`;
      checkEnum(w, 'split', split, ['train', 'valid']);
      checkInteger(w, 'index', index, 0);
      checkInteger(w, 'batchSize', batchSize, 1);
      const bits = randomBits(deriveSeed(seed, index), batchSize * wordLength, SPLIT_STREAM[split]);
      const ids = new Int32Array(batchSize * length);
      const labels = new Int32Array(batchSize * length).fill(IGNORE_INDEX);
      for (let b = 0; b < batchSize; b++) {
        const row = b * length;
        for (let j = 0; j < wordLength; j++) {
          const symbol = (bits[b * wordLength + j]! % symbols) + 1;
          ids[row + 1 + j] = symbol;
          ids[row + half + 1 + j] = symbol;
          labels[row + half + 1 + j] = symbol;
        }
      }
      return { batchSize, length, ids, labels };
    },
    async evaluate(model, evalOptions = {}) {
      const s = await evaluateCausal(`${where}.evaluate`, task, model, evalOptions, { batchSize: evalBatchSize, batches: evalBatches });
      return { loss: s.lossSum / s.count, accuracy: s.correct / s.count };
    },
  };
  return task;
}
