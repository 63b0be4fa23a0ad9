/**
 * PyTorch checkpoints in memory, browser-safe: a restricted reader of both `torch.save` formats that
 * executes nothing. Files on disk: `readPyTorchFile` from `@reformer/core/node`.
 *
 * @module
 */

export { parsePyTorchCheckpoint, pytorchCheckpointFormat } from './checkpoint.js';
export type { PyTorchCheckpointFormat, PyTorchReadOptions } from './checkpoint.js';
