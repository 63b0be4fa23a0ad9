/**
 * PyTorch checkpoint files on disk (Node only).
 *
 * @module
 */

import { readFile } from 'node:fs/promises';
import { CheckpointFormatError, PickleSecurityError } from '../errors.js';
import { parsePyTorchCheckpoint, type PyTorchReadOptions, type SafetensorsFile } from '../io/index.js';

/**
 * Reads a PyTorch checkpoint (`pytorch_model.bin`, `*.pt`; zip or legacy format) with the restricted
 * reader of `parsePyTorchCheckpoint`: nothing in the file is executed.
 *
 * @param path - the file to read.
 * @param options - see `PyTorchReadOptions`.
 * @returns the state dict's tensors by name (float32 / int32) and empty metadata.
 * @throws {PickleSecurityError} if the pickle names a global outside the allow-list (the message starts
 *   with the path; `cause` is the original error).
 * @throws {CheckpointFormatError} if the file is not a valid checkpoint (the message starts with the
 *   path), or the Node `fs` error if it cannot be read.
 */
export async function readPyTorchFile(path: string, options: PyTorchReadOptions = {}): Promise<SafetensorsFile> {
  const bytes = await readFile(path);
  try {
    return parsePyTorchCheckpoint(bytes, options);
  } catch (e) {
    if (e instanceof CheckpointFormatError) {
      const wrapped = e instanceof PickleSecurityError ? new PickleSecurityError(`${path}: ${e.message}`) : new CheckpointFormatError(`${path}: ${e.message}`);
      wrapped.cause = e;
      throw wrapped;
    }
    throw e;
  }
}
