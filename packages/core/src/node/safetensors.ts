/**
 * Safetensors files on disk (Node only).
 *
 * @module
 */

import { readFile } from 'node:fs/promises';
import { parseSafetensors, serializeSafetensors, type HostTensor, type SafetensorsFile } from '../io/index.js';
import { writeFileAtomic } from './atomic.js';

/**
 * Reads and parses a safetensors file. See `parseSafetensors` for the dtypes read and how they map
 * to `'float32'` / `'int32'`.
 *
 * @param path - the file to read.
 * @returns the file's tensors by name and its `__metadata__` map.
 * @throws {SafetensorsError} if the file is not a valid safetensors file, read as strictly as
 *   `parseSafetensors` does (the message starts with the path; `cause` is the error without it), or
 *   the Node `fs` error if it cannot be read.
 */
export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  return parseSafetensors(await readFile(path), { source: path });
}

/**
 * Serializes tensors with `serializeSafetensors` (F32 / I32, names in ascending order) and writes the
 * file atomically with {@link writeFileAtomic}: an existing file is replaced only once the new one is
 * complete and on disk.
 *
 * @param path - the file to create or replace. Its directory must exist.
 * @param tensors - the tensors by name, as a `Map` or a plain object.
 * @param metadata - optional string map stored as the header's `__metadata__`.
 * @throws {SafetensorsError} if a tensor is invalid (nothing is written then), or the Node `fs` error
 *   if the file cannot be written.
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: Map<string, HostTensor> | Record<string, HostTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
