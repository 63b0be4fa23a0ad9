import { InvalidArgumentError, checkInteger, deriveSeed, noGrad, seedScope, tidy } from '@reformer/core';
import type { ReformerForMaskedLM, ReformerModelWithLMHead } from '../model.js';
import { IGNORE_INDEX } from '../labels.js';
import { batchTensors, checkBatch, type TrainBatch } from '../train/batch.js';

/** A Reformer language model with a head: what tasks evaluate and `train` trains. */
export type LanguageModel = ReformerModelWithLMHead | ReformerForMaskedLM;

/** Evaluation metrics by name (for example `loss`, `accuracy`, `bpc`). */
export type Metrics = Record<string, number>;

/** Options of {@link Task.evaluate}. */
export interface EvaluateOptions {
  /** Rows per evaluation batch (default: the task's own default). */
  batchSize?: number;
  /** Evaluation batches (default: the task's own default). */
  batches?: number;
  /** Hash rounds of every LSH layer during evaluation (default: the model's `num_hashes`). */
  nHashes?: number;
  /** Seed of the evaluation's randomness (LSH rotations); default 0. The same seed gives the same metrics. */
  seed?: number;
}

/**
 * A training task: a deterministic source of batches and an evaluation. `train` consumes it directly
 * (`data: task`), the CLI builds its model from `vocabSize` and `length`.
 *
 * Batches are functions of `(split, index)` alone (and the task's seed), so a run resumed from a
 * checkpoint at step s sees exactly the batches an uninterrupted run sees after s.
 */
export interface Task {
  /** Short name (`duplication`, `char-lm`). */
  readonly name: string;
  /** Vocabulary size the model needs (ids are in `[0, vocabSize)`). */
  readonly vocabSize: number;
  /** Tokens per row of every batch. */
  readonly length: number;
  /** Batch number `index` of `split` with `batchSize` rows; the same arguments give the same batch. */
  batch(split: 'train' | 'valid', index: number, batchSize: number): TrainBatch;
  /** Evaluates `model` on the validation split (in eval mode, without gradients). */
  evaluate(model: LanguageModel, options?: EvaluateOptions): Promise<Metrics>;
}

/** Sums of a causal LM's scores over a batch's labelled positions (see {@link scoreCausalLM}). */
export interface CausalScores {
  /** Σ −log p(label) over the scored positions (natural log). */
  lossSum: number;
  /** Scored positions whose label is the argmax of the logits. */
  correct: number;
  /** Scored positions. */
  count: number;
}

/**
 * Scores a causal LM's logits against a batch's labels on the host, with Hugging Face's shift: the
 * logits at position t (`[batch, length, V]`, row-major) predict `labels[t + 1]`; labels −100 are
 * skipped. Ties in the argmax go to the lowest id. Returns the summed cross-entropy, the number of
 * correct argmax predictions and the number of scored positions.
 */
export function scoreCausalLM(
  logits: Float32Array,
  labels: Int32Array,
  batchSize: number,
  length: number,
  vocabSize: number,
): CausalScores {
  if (logits.length !== batchSize * length * vocabSize || labels.length !== batchSize * length) {
    throw new InvalidArgumentError(
      `scoreCausalLM: ${logits.length} logits and ${labels.length} labels do not fit [${batchSize}, ${length}, ${vocabSize}].`,
    );
  }
  let lossSum = 0;
  let correct = 0;
  let count = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let t = 1; t < length; t++) {
      const label = labels[b * length + t]!;
      if (label === IGNORE_INDEX) continue;
      if (label < 0 || label >= vocabSize)
        throw new InvalidArgumentError(`scoreCausalLM: label ${label} at [${b}, ${t}] is outside [0, ${vocabSize}).`);
      const row = (b * length + t - 1) * vocabSize;
      let best = 0;
      let max = -Infinity;
      for (let v = 0; v < vocabSize; v++) {
        const x = logits[row + v]!;
        if (x > max) {
          max = x;
          best = v;
        }
      }
      let z = 0;
      for (let v = 0; v < vocabSize; v++) z += Math.exp(logits[row + v]! - max);
      lossSum += Math.log(z) + max - logits[row + label]!;
      if (best === label) correct++;
      count++;
    }
  }
  return { lossSum, correct, count };
}

/**
 * Evaluates a causal LM over `batches` of a task's validation split: the mean cross-entropy over the
 * scored positions and the argmax accuracy. The model runs in eval mode (restored afterwards), under
 * `noGrad` and a seed scope per batch (`deriveSeed(seed, i)`), so the result is reproducible. @internal
 */
export async function evaluateCausal(
  where: string,
  task: Task,
  model: LanguageModel,
  options: EvaluateOptions,
  defaults: { batchSize: number; batches: number },
): Promise<CausalScores> {
  const batchSize = options.batchSize ?? defaults.batchSize;
  const batches = options.batches ?? defaults.batches;
  const seed = options.seed ?? 0;
  checkInteger(where, 'batchSize', batchSize, 1);
  checkInteger(where, 'batches', batches, 1);
  if (!model.config.is_decoder) {
    throw new InvalidArgumentError(
      `${where}: the task scores a causal LM (position t predicts token t + 1); this model has is_decoder: false.`,
    );
  }
  if (model.config.vocab_size < task.vocabSize) {
    throw new InvalidArgumentError(`${where}: the model's vocab_size ${model.config.vocab_size} is below the task's ${task.vocabSize}.`);
  }
  const wasTraining = model.training;
  model.eval();
  const total: CausalScores = { lossSum: 0, correct: 0, count: 0 };
  try {
    for (let i = 0; i < batches; i++) {
      const batch = task.batch('valid', i, batchSize);
      checkBatch(where, batch);
      const logits = seedScope(deriveSeed(seed, i), () =>
        noGrad(() =>
          tidy(() => {
            const t = batchTensors(batch);
            return model.forward(t.ids, {
              ...(t.attentionMask !== undefined ? { attentionMask: t.attentionMask } : {}),
              ...(options.nHashes !== undefined ? { nHashes: options.nHashes } : {}),
            });
          }),
        ),
      );
      let values: Float32Array;
      try {
        values = (await logits.data()) as Float32Array;
      } finally {
        logits.dispose();
      }
      const mask = batch.attentionMask;
      const labels = batch.labels ?? (mask !== undefined ? batch.ids.map((id, j) => (mask[j] !== 0 ? id : IGNORE_INDEX)) : batch.ids);
      const s = scoreCausalLM(values, labels, batch.batchSize, batch.length, model.config.vocab_size);
      total.lossSum += s.lossSum;
      total.correct += s.correct;
      total.count += s.count;
    }
  } finally {
    model.train(wasTraining);
  }
  return total;
}
