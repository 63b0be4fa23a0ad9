/**
 * The training loop ({@link train}) and its batch format ({@link TrainBatch}). Browser-safe: nothing
 * here imports Node modules; checkpoints are written through injected hooks.
 * @module
 */
export { checkBatch, batchTokens, type TrainBatch } from './batch.js';
export {
  train,
  TrainError,
  type TrainOptions,
  type TrainProgress,
  type TrainResult,
  type TrainState,
  type TrainCheckpoint,
  type ResumePoint,
} from './train.js';
