/**
 * PyTorch checkpoint files on disk (Node only).
 *
 * @module
 */

import { readFile } from 'node:fs/promises';
import * as zlib from 'node:zlib';
import { CheckpointFormatError, PickleSecurityError } from '../errors.js';
import type { PyTorchReadOptions, SafetensorsFile } from '../io/index.js';
import { parseWithChecksum } from '../io/pytorch/checkpoint.js';

/** Node's native CRC-32 (zlib.crc32, Node 20.15+), many times faster than the portable one; undefined before. */
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

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
    return parseWithChecksum(bytes, options, nativeCrc32);
  } catch (e) {
    if (e instanceof CheckpointFormatError) {
      const wrapped =
        e instanceof PickleSecurityError
          ? new PickleSecurityError(`${path}: ${e.message}`)
          : new CheckpointFormatError(`${path}: ${e.message}`);
      wrapped.cause = e;
      throw wrapped;
    }
    throw e;
  }
}
