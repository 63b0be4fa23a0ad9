/**
 * Optimizers ({@link SGD}, {@link Adam}, {@link AdamW}, {@link Adafactor}) on a common
 * {@link Optimizer} base, global-norm gradient clipping and learning-rate schedules.
 * @module
 */
export {
  Optimizer,
  type LearningRate,
  type OptimizerParams,
  type Gradients,
  type OptimizerState,
  type OptimizerStateInput,
  type ParamUpdate,
} from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { Adafactor, type AdafactorOptions } from './adafactor.js';
export { clipGradNorm } from './clip.js';
export {
  constantSchedule,
  warmupRsqrtSchedule,
  cosineSchedule,
  type Schedule,
  type WarmupRsqrtOptions,
  type CosineScheduleOptions,
} from './schedules.js';
