import {
  InvalidArgumentError,
  ReformerError,
  add,
  deriveSeed,
  clipGradNorm,
  gradients,
  noGrad,
  scalar,
  seedScope,
  sqrt,
  square,
  sum,
  tidy,
  type LearningRate,
  type Module,
  type Optimizer,
  type Tensor,
  checkInteger,
} from '@reformer/core';
import type { LanguageModel, Metrics, Task } from '../tasks/task.js';
import { batchTensors, batchTokens, checkBatch, type TrainBatch } from './batch.js';
import { nextMacrotask } from './yield.js';

/** What a training checkpoint holds besides the model and the optimizer (JSON-serialisable). */
export interface TrainState {
  /** Training steps completed. */
  step: number;
  /** The run's seed (a resumed run must use the same one). */
  seed: number;
  /** Anything else. */
  [key: string]: unknown;
}

/** What `train` hands to its `saveCheckpoint` hook (the shape `saveCheckpoint` of `@reformer/model/node` takes). */
export interface TrainCheckpoint {
  /** The model being trained (serialise it; do not dispose it). */
  model: LanguageModel;
  /** Its optimizer (serialise its `stateDict()`). */
  optimizer: Optimizer;
  /** Step, seed, last loss, last evaluation. */
  state: TrainState;
}

/**
 * A checkpoint to resume from, as the `loadCheckpoint` hook returns it (the shape of
 * `loadLatestCheckpoint` from `@reformer/model/node`).
 */
export interface ResumePoint {
  /** A model holding the checkpoint's weights (same parameter names and shapes); `train` copies them and disposes it. */
  model: Module;
  /** The trainer state saved with it. */
  state: { step: number; [key: string]: unknown };
  /** Loads the optimizer state into `optimizer`. */
  restoreOptimizer?(optimizer: Optimizer): void;
}

/** One progress report (see {@link TrainOptions.onProgress}). */
export interface TrainProgress {
  /** The step just completed (1-based). */
  step: number;
  /** The last step of the run. */
  steps: number;
  /** The step's training loss. */
  loss: number;
  /** The global L2 norm of the step's gradients, before clipping. */
  gradNorm: number;
  /** The learning rate the step used. */
  lr: number;
  /** Training tokens per second over the steps of this call (evaluation and checkpoint time excluded). */
  tokensPerSecond: number;
  /** Estimated seconds until the last step, at the training pace so far. */
  etaSeconds: number;
  /** Seconds since `train` was called. */
  elapsedSeconds: number;
  /** The evaluation run after this step, if one ran. */
  eval?: Metrics;
}

/** Options of {@link train}. */
export interface TrainOptions {
  /** The model (`ReformerModelWithLMHead` or `ReformerForMaskedLM`); trained in place. */
  model: LanguageModel;
  /** An optimizer over `model.namedParameters()` (for example `new Adam(model.namedParameters())`). */
  optimizer: Optimizer;
  /**
   * The training data: a {@link Task} (batch `step − 1` of its `train` split, `batchSize` rows), or a
   * function from the step number (1-based) to a batch. It must be deterministic in the step for a
   * resumed run to equal an uninterrupted one.
   */
  data: Task | ((step: number) => TrainBatch);
  /** The last step: training runs steps `start + 1 … steps` (start = 0, or the resumed checkpoint's step). */
  steps: number;
  /** Rows per batch when `data` is a Task (default 8). */
  batchSize?: number;
  /**
   * Seed of the run: step s runs under `seedScope(deriveSeed(seed, s))`, so its dropout masks and LSH
   * rotations depend only on (seed, s). Default 0.
   */
  seed?: number;
  /** Learning rate or schedule (step → rate, 1-based), set on the optimizer; default: the optimizer's own. */
  lr?: LearningRate;
  /** Clip the gradients to this global L2 norm (core `clipGradNorm`); default: no clipping. */
  clipNorm?: number;
  /** Evaluate every this many steps and after the last step (0 or omitted: only when `evaluate`/`evalData`/a task is given, after the last step). */
  evalEvery?: number;
  /** Evaluation batches: their mean loss is reported as `{ loss }` (used when `evaluate` is not given). */
  evalData?: readonly TrainBatch[];
  /**
   * The evaluation: metrics of the model at `step` (the model is in eval mode during the call). Default:
   * `task.evaluate(model, { seed })` when `data` is a Task, else the mean loss over `evalData`, with a
   * seed derived from the run's (the same at every evaluation). A custom evaluation that draws random
   * numbers (LSH rotations) should run its synchronous parts under its own `seedScope` to be
   * reproducible: `seedScope` does not reach across an `await`.
   */
  evaluate?: (model: LanguageModel, step: number) => Metrics | Promise<Metrics>;
  /** Called after every `progressEvery`-th step, after the last, and after every evaluation. */
  onProgress?: (progress: TrainProgress) => void | Promise<void>;
  /** Report progress every this many steps (default 1). */
  progressEvery?: number;
  /** Save a checkpoint every this many steps and after the last step (needs `saveCheckpoint`; 0: only after the last step). */
  checkpointEvery?: number;
  /**
   * Saves a checkpoint. Browser-safe injection point: in Node pass
   * `(c) => saveCheckpoint(dir, c, { keep: 3 })` from `@reformer/model/node`.
   */
  saveCheckpoint?: (checkpoint: TrainCheckpoint) => Promise<unknown>;
  /**
   * Returns the checkpoint to resume from, or null to start at step 0. In Node pass
   * `() => loadLatestCheckpoint(dir)`. The model's weights and the optimizer state are restored and
   * training continues at the checkpoint's step + 1.
   */
  loadCheckpoint?: () => Promise<ResumePoint | null>;
  /**
   * Stops the run after the current step: `train` gives the event loop a turn (one macrotask) after
   * every step, so an abort from a timer, a UI event or a signal handler lands within one step. The
   * step's checkpoint is saved first when `saveCheckpoint` is given; the result has `stopped: true`
   * and the signal's `reason`.
   */
  signal?: AbortSignal;
}

/** What {@link train} returns. */
export interface TrainResult {
  /** The last step completed. */
  step: number;
  /** The step training started from (0, or the resumed checkpoint's step). */
  startStep: number;
  /** The last step's loss (NaN when no step ran). */
  loss: number;
  /** The last evaluation's metrics, if any ran. */
  eval?: Metrics;
  /** True when `signal` stopped the run before its last step. */
  stopped: boolean;
  /** When stopped: the signal's `reason` (an `AbortError` `DOMException` unless `abort(reason)` gave one). */
  stopReason?: unknown;
  /** Wall seconds of the call. */
  elapsedSeconds: number;
}

/** Training failed: the loss became NaN or infinite, or a checkpoint does not fit the run. */
export class TrainError extends ReformerError {}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** The global L2 norm of a list of gradients, as a scalar tensor. */
function globalNorm(grads: readonly Tensor[]): Tensor {
  let total = scalar(0);
  for (const g of grads) total = add(total, sum(square(g)));
  return sqrt(total);
}

/**
 * Trains `model` with `optimizer` on `data` up to step `steps`. Browser-safe: checkpoints go through
 * the injected `saveCheckpoint` / `loadCheckpoint` hooks.
 *
 * Each step s: builds batch s, then under `seedScope(deriveSeed(seed, s))` and one `tidy` scope computes
 * the loss and its gradients over `model.namedParameters()` with core `gradients`, clips them by global
 * norm (`clipNorm`), and applies `optimizer.step`. Everything the step creates is freed before the next
 * one, so memory stays flat. Because the data, the dropout masks and the LSH rotations of step s depend
 * only on (seed, s), and checkpoints hold the weights, the optimizer state and the step, a run resumed
 * from a checkpoint at step k produces bit for bit the parameters of an uninterrupted run.
 *
 * @example
 * ```ts
 * import { Adam, warmupRsqrtSchedule } from '@reformer/core';
 * import { ReformerModelWithLMHead, duplicationTask, train } from '@reformer/model';
 *
 * const task = duplicationTask({ length: 64, vocabSize: 16 });
 * const model = new ReformerModelWithLMHead({ ...config, vocab_size: task.vocabSize, is_decoder: true }, { seed: 1 });
 * const optimizer = new Adam(model.namedParameters());
 * await train({ model, optimizer, data: task, steps: 500, batchSize: 8, clipNorm: 1,
 *   lr: warmupRsqrtSchedule({ peak: 1e-3, warmupSteps: 100 }), evalEvery: 100,
 *   onProgress: (p) => console.log(p.step, p.loss, p.eval) });
 * ```
 * @throws {InvalidArgumentError} for bad options; {@link TrainError} when the loss is not finite or a
 *   checkpoint was made with another seed.
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const started = now();
  const run = checkTrainOptions(options);
  const { model, optimizer, steps } = run;
  const start = await resume(options, run);
  const params = [...model.namedParameters().values()];

  let trainSeconds = 0;
  let tokens = 0;
  let loss = Number.NaN;
  let lastEval: Metrics | undefined;
  let stopped = false;
  let stopReason: unknown;
  let step = start;
  model.train();
  while (step < steps) {
    if (options.signal?.aborted) {
      stopped = true;
      stopReason = options.signal.reason;
      break;
    }
    step += 1;
    const t0 = now();
    const batch = run.getBatch(step);
    checkBatch(`train: the batch of step ${step}`, batch);
    const lr = optimizer.learningRate();
    const result = await trainStep(run, params, batch, step);
    loss = result.loss;
    trainSeconds += (now() - t0) / 1000;
    tokens += batchTokens(batch);
    if (!Number.isFinite(loss))
      throw new TrainError(`train: the loss at step ${step} is ${loss}; lower the learning rate or set clipNorm.`);
    // One macrotask per step: timers, an abort and signal handlers run here, between steps (and a
    // browser page stays responsive), at the cost of microseconds.
    await nextMacrotask();

    const last = step === steps || options.signal?.aborted === true;
    const evaluation = await evaluateIfDue(run, step);
    const evalMetrics = evaluation?.metrics;
    if (evaluation !== undefined) lastEval = evaluation.metrics;
    if (options.onProgress !== undefined && (step % run.progressEvery === 0 || last || evalMetrics !== undefined)) {
      const perStep = trainSeconds / (step - start);
      await options.onProgress({
        step,
        steps,
        loss,
        gradNorm: result.gradNorm,
        lr,
        tokensPerSecond: trainSeconds > 0 ? tokens / trainSeconds : 0,
        etaSeconds: perStep * (steps - step),
        elapsedSeconds: (now() - started) / 1000,
        ...(evalMetrics !== undefined ? { eval: evalMetrics } : {}),
      });
    }
    // A stop requested during this step (or its progress report) saves the step's state before returning.
    const stopping = options.signal?.aborted === true;
    if ((run.checkpointEvery > 0 && step % run.checkpointEvery === 0) || last || stopping)
      await save(options, run, step, loss, evalMetrics ?? lastEval);
  }
  return {
    step,
    startStep: start,
    loss,
    ...(lastEval !== undefined ? { eval: lastEval } : {}),
    stopped,
    ...(stopped ? { stopReason } : {}),
    elapsedSeconds: (now() - started) / 1000,
  };
}

/** The checked settings of a `train` call. */
interface TrainRun {
  readonly model: LanguageModel;
  readonly optimizer: Optimizer;
  readonly steps: number;
  readonly seed: number;
  readonly evalEvery: number;
  readonly progressEvery: number;
  readonly checkpointEvery: number;
  readonly clipNorm: number | undefined;
  /** The batch of step s (1-based). */
  readonly getBatch: (step: number) => TrainBatch;
  /** The evaluation, if the options give one (a function, `evalData` or a task's own). */
  readonly evaluate: ((model: LanguageModel, step: number) => Metrics | Promise<Metrics>) | undefined;
}

/** Checks every option (and applies `lr` to the optimizer) before anything runs. */
function checkTrainOptions(options: TrainOptions): TrainRun {
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError('train: expected an options object { model, optimizer, data, steps, ... }.');
  const { model, optimizer, data } = options;
  if (model === undefined || typeof (model as { loss?: unknown }).loss !== 'function') {
    throw new InvalidArgumentError('train: options.model must be a ReformerModelWithLMHead or ReformerForMaskedLM.');
  }
  if (optimizer === undefined || typeof (optimizer as { step?: unknown }).step !== 'function') {
    throw new InvalidArgumentError('train: options.optimizer must be an Optimizer over model.namedParameters().');
  }
  const task = typeof data === 'function' ? undefined : data;
  if (typeof data !== 'function' && (data === null || typeof data !== 'object' || typeof data.batch !== 'function')) {
    throw new InvalidArgumentError('train: options.data must be a Task or a function (step) => TrainBatch.');
  }
  const steps = checkInteger('train', 'steps', options.steps, 0);
  const batchSize = checkInteger('train', 'batchSize', options.batchSize ?? 8, 1);
  const seed = checkInteger('train', 'seed', options.seed ?? 0, 0);
  const evalEvery = checkInteger('train', 'evalEvery', options.evalEvery ?? 0, 0);
  const progressEvery = checkInteger('train', 'progressEvery', options.progressEvery ?? 1, 1);
  const checkpointEvery = checkInteger('train', 'checkpointEvery', options.checkpointEvery ?? 0, 0);
  const clipNorm = options.clipNorm;
  if (clipNorm !== undefined && (typeof clipNorm !== 'number' || !(clipNorm > 0))) {
    throw new InvalidArgumentError(`train: clipNorm must be a positive number, got ${String(clipNorm)}.`);
  }
  if (options.lr !== undefined) {
    if (typeof options.lr !== 'function' && (typeof options.lr !== 'number' || !Number.isFinite(options.lr) || options.lr < 0)) {
      throw new InvalidArgumentError(`train: lr must be a non-negative number or a schedule (step) => number, got ${String(options.lr)}.`);
    }
    optimizer.lr = options.lr;
  }
  if (options.evalData !== undefined) options.evalData.forEach((b, i) => checkBatch(`train: evalData[${i}]`, b));
  // The evaluation's seed: the same at every evaluation (comparable metrics), apart from the steps' seeds.
  const evalSeed = deriveSeed(seed, 0x1fffffffffffff);
  const getBatch = task !== undefined ? (step: number) => task.batch('train', step - 1, batchSize) : (data as (step: number) => TrainBatch);
  const evaluate =
    options.evaluate ??
    (options.evalData !== undefined
      ? (m: LanguageModel) => meanLoss(m, options.evalData!, evalSeed)
      : task !== undefined
        ? (m: LanguageModel) => task.evaluate(m, { seed: evalSeed })
        : undefined);
  return { model, optimizer, steps, seed, evalEvery, progressEvery, checkpointEvery, clipNorm, getBatch, evaluate };
}

/**
 * Loads the checkpoint `loadCheckpoint` gives, if any, into the model and the optimizer; returns the
 * step to continue from (0 without one).
 */
async function resume(options: TrainOptions, run: TrainRun): Promise<number> {
  if (options.loadCheckpoint === undefined) return 0;
  const point = await options.loadCheckpoint();
  if (point === null) return 0;
  const savedSeed = point.state['seed'];
  if (savedSeed !== undefined && savedSeed !== run.seed) {
    point.model.dispose();
    throw new TrainError(
      `train: the checkpoint was made with seed ${String(savedSeed)}, this run has seed ${run.seed}; resume with the same seed for an exact continuation.`,
    );
  }
  try {
    const start = checkInteger('train', 'the checkpoint state step', point.state.step, 0);
    run.model.loadStateDict(point.model.stateDict());
    point.restoreOptimizer?.(run.optimizer);
    return start;
  } finally {
    point.model.dispose();
  }
}

/**
 * One optimisation step under `seedScope(deriveSeed(seed, step))` and one `tidy`: the loss and its
 * gradients, clipping (or just the global norm), the optimizer's update. Returns the loss and the
 * gradient norm read back.
 */
async function trainStep(run: TrainRun, params: Tensor[], batch: TrainBatch, step: number): Promise<{ loss: number; gradNorm: number }> {
  const { model, optimizer, clipNorm } = run;
  const [lossT, normT] = seedScope(deriveSeed(run.seed, step), () =>
    tidy(() => {
      const t = batchTensors(batch);
      const { value, grads } = gradients(
        () =>
          model.loss(t.ids, {
            ...(t.labels !== undefined ? { labels: t.labels } : {}),
            ...(t.attentionMask !== undefined ? { attentionMask: t.attentionMask } : {}),
          }),
        params,
      );
      let norm: Tensor;
      let update = grads;
      if (clipNorm !== undefined) ({ grads: update, norm } = clipGradNorm(grads, clipNorm));
      else norm = noGrad(() => globalNorm(grads));
      optimizer.step(update);
      return [value, norm] as const;
    }),
  );
  try {
    const [l, g] = await Promise.all([lossT.data(), normT.data()]);
    return { loss: l[0]!, gradNorm: g[0]! };
  } finally {
    lossT.dispose();
    normT.dispose();
  }
}

/** The evaluation, run in eval mode when one is due at `step` (every `evalEvery` steps and at the last). */
async function evaluateIfDue(run: TrainRun, step: number): Promise<{ metrics: Metrics } | undefined> {
  const { evaluate, model, evalEvery, steps } = run;
  if (evaluate === undefined || !((evalEvery > 0 && step % evalEvery === 0) || step === steps)) return undefined;
  const wasTraining = model.training;
  model.eval();
  try {
    return { metrics: await evaluate(model, step) };
  } finally {
    model.train(wasTraining);
  }
}

/** Hands the state after `step` to the `saveCheckpoint` hook, if there is one. */
async function save(options: TrainOptions, run: TrainRun, step: number, loss: number, evalMetrics: Metrics | undefined): Promise<void> {
  if (options.saveCheckpoint === undefined) return;
  const state: TrainState = { step, seed: run.seed, loss, ...(evalMetrics !== undefined ? { eval: evalMetrics } : {}) };
  await options.saveCheckpoint({ model: run.model, optimizer: run.optimizer, state });
}

/** The mean of the batches' losses (each batch's loss is the mean over its scored positions). */
async function meanLoss(model: LanguageModel, batches: readonly TrainBatch[], seed: number): Promise<Metrics> {
  let total = 0;
  for (const [i, batch] of batches.entries()) {
    const l = seedScope(deriveSeed(seed, i), () =>
      noGrad(() =>
        tidy(() => {
          const t = batchTensors(batch);
          return model.loss(t.ids, {
            ...(t.labels !== undefined ? { labels: t.labels } : {}),
            ...(t.attentionMask !== undefined ? { attentionMask: t.attentionMask } : {}),
          });
        }),
      ),
    );
    try {
      total += (await l.data())[0]!;
    } finally {
      l.dispose();
    }
  }
  return { loss: total / batches.length };
}
