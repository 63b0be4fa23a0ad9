/**
 * Byte-level language modelling over any text: the vocabulary is the 256 byte values, the text is
 * split into a training part and a validation part, training batches are random windows of the
 * training part, and the validation metric is bits per character (here: per byte).
 * @module
 */
import { InvalidArgumentError, deriveSeed, randomBits, checkEnum, checkInteger, checkNumber } from '@reformer/core';
import type { TrainBatch } from '../train/batch.js';
import { evaluateCausal, type EvaluateOptions, type LanguageModel, type Metrics, type Task } from './task.js';

/** Options of {@link charLMTask}. */
export interface CharLMOptions {
  /** The corpus: a string (encoded as UTF-8) or bytes. */
  text: string | Uint8Array;
  /** Tokens per window (≥ 2). Default 256. */
  length?: number;
  /** Fraction of the bytes, at the end of the text, held out for validation (in (0, 1)). Default 0.1. */
  validFraction?: number;
  /** Seed of the training windows' positions (default 0). */
  seed?: number;
  /** Default rows per evaluation batch (default 8). */
  evalBatchSize?: number;
  /** Default evaluation batches (default: enough to cover the validation part once, at most 8). */
  evalBatches?: number;
}

/** The char-LM task (see {@link charLMTask}). */
export interface CharLMTask extends Task {
  readonly name: 'char-lm';
  readonly vocabSize: 256;
  /** The training bytes: `bytes[0, split)`. */
  readonly train: Uint8Array;
  /** The validation bytes: `bytes[split, n)`. */
  readonly valid: Uint8Array;
  /** The seed of the training windows. */
  readonly seed: number;
  /**
   * `{ loss, bpc }` on the validation part: the mean next-byte cross-entropy (nats) over the scored
   * positions (every position of a window but the first) and bits per character, `loss / ln 2`.
   */
  evaluate(model: LanguageModel, options?: EvaluateOptions): Promise<Metrics>;
}

/**
 * A byte-level LM task over `text`. The bytes are split at `n − ⌈validFraction · n⌉`: training on the
 * first part, validation on the rest (a contiguous split, as enwik8's). Training batch `index` holds
 * `batchSize` windows of `length` bytes starting at uniformly drawn offsets of the training part
 * (Philox: `randomBits(deriveSeed(seed, index), batchSize)` mod the number of offsets), so a batch
 * depends only on `(seed, index, batchSize)`. Validation batch `index` holds consecutive,
 * non-overlapping windows: row r of batch i starts at `((i · batchSize + r) mod W) · length`, W being
 * the number of whole windows in the validation part. Labels are the ids (the causal LM predicts each byte from the ones before it).
 *
 * @example
 * ```ts
 * const task = charLMTask({ text: await readFile('book.txt'), length: 128 });
 * const { bpc } = await task.evaluate(model);
 * ```
 * @throws {InvalidArgumentError} when either part is shorter than one window, or for bad options.
 */
export function charLMTask(options: CharLMOptions): CharLMTask {
  const where = 'charLMTask';
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`${where}: expected options { text, length?, ... }.`);
  const { text } = options;
  let bytes: Uint8Array;
  if (typeof text === 'string') bytes = new TextEncoder().encode(text);
  else if (text instanceof Uint8Array) bytes = text;
  else
    throw new InvalidArgumentError(
      `${where}: text must be a string or a Uint8Array, got ${text === undefined ? 'undefined' : typeof text}.`,
    );
  const length = checkInteger(where, 'length', options.length ?? 256, 2);
  const validFraction = checkNumber(where, 'validFraction', options.validFraction ?? 0.1, 0, 1, {
    minInclusive: false,
    maxInclusive: false,
  });
  const seed = checkInteger(where, 'seed', options.seed ?? 0, 0);
  const n = bytes.length;
  const split = n - Math.ceil(validFraction * n);
  const train = bytes.subarray(0, split);
  const valid = bytes.subarray(split);
  if (train.length < length || valid.length < length) {
    throw new InvalidArgumentError(
      `${where}: the text has ${n} bytes: ${train.length} for training and ${valid.length} for validation, but a window needs ${length}; ` +
        'use a longer text, a shorter length, or another validFraction.',
    );
  }
  const validWindows = Math.floor(valid.length / length);
  const evalBatchSize = checkInteger(where, 'evalBatchSize', options.evalBatchSize ?? 8, 1);
  const evalBatches = checkInteger(where, 'evalBatches', options.evalBatches ?? Math.min(8, Math.ceil(validWindows / evalBatchSize)), 1);
  const trainOffsets = train.length - length + 1;

  const task: CharLMTask = {
    name: 'char-lm',
    vocabSize: 256,
    length,
    train,
    valid,
    seed,
    batch(splitName, index, batchSize) {
      const w = `${where}.batch`;
      checkEnum(w, 'split', splitName, ['train', 'valid']);
      checkInteger(w, 'index', index, 0);
      checkInteger(w, 'batchSize', batchSize, 1);
      const ids = new Int32Array(batchSize * length);
      if (splitName === 'train') {
        const bits = randomBits(deriveSeed(seed, index), batchSize);
        for (let r = 0; r < batchSize; r++)
          ids.set(train.subarray(bits[r]! % trainOffsets, (bits[r]! % trainOffsets) + length), r * length);
      } else {
        for (let r = 0; r < batchSize; r++) {
          const start = ((index * batchSize + r) % validWindows) * length;
          ids.set(valid.subarray(start, start + length), r * length);
        }
      }
      return { batchSize, length, ids, labels: ids };
    },
    async evaluate(model: LanguageModel, evalOptions: EvaluateOptions = {}) {
      const s = await evaluateCausal(`${where}.evaluate`, task, model, evalOptions, { batchSize: evalBatchSize, batches: evalBatches });
      const loss = s.lossSum / s.count;
      return { loss, bpc: loss / Math.LN2 };
    },
  };
  return task;
}
