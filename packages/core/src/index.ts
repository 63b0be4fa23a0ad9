/**
 * @reformer/core — tensors, the Backend contract, ops and their gradients, autograd, memory scopes,
 * seeded randomness, nn basics, optimizers, safetensors I/O and the reference CPU backend.
 * @packageDocumentation
 */
export * from './types.js';
export * from './errors.js';
export { formatValue } from './format.js';
export * from './validate.js';
export * from './backend.js';
export { Tensor, Variable, variable } from './tensor.js';
export {
  registerBackend,
  listBackends,
  setBackend,
  getBackend,
  withBackend,
  memory,
  resetPeak,
  tidy,
  keep,
  dispose,
  type MemoryInfo,
} from './engine.js';
export { gradients, grad, valueAndGrad, noGrad, customGrad, type ValueAndGrads, type CustomGradResult } from './autograd.js';
export { ReplayRecord, replayable } from './replay.js';
export {
  ATTENTION_DROPOUT_SALT,
  attentionDropoutFactor,
  attentionDropoutKeeps,
  attentionDropoutRowKey,
  attentionDropoutWords,
  fmix32,
  hashAbsorb,
  type AttentionDropout,
  type AttentionDropoutWords,
} from './attention-dropout.js';
export {
  attentionLogitRule,
  attentionWindowSlots,
  maskAttentionLogits,
  type AttentionMaskInputs,
  type AttentionMaskOps,
} from './attention-rules.js';
export {
  seedScope,
  nextSeed,
  setGlobalSeed,
  deriveSeed,
  randomBits,
  uniformValues,
  normalValues,
  philox4x32,
  checkSeed,
} from './random.js';
export * from './ops/index.js';
export { CpuBackend, createCpuBackend, DEFAULT_CPU_MAX_ALLOCATION_BYTES, type CpuBackendOptions } from './cpu/index.js';
export {
  AllocationTooLargeError,
  DEFAULT_MAX_ALLOCATION_BYTES,
  checkAllocation,
  formatBytes,
  maxAllocationBytes,
  tensorBytes,
} from './allocation.js';
export * from './io/index.js';
export * from './nn/index.js';
export * from './optim/index.js';
