/**
 * Finding and reading a model's weights in a checkpoint folder, in every layout Hugging Face
 * publishes: `model.safetensors`, sharded safetensors (`model.safetensors.index.json`), PyTorch's
 * `pytorch_model.bin` (zip or legacy format, read by core's restricted reader that executes nothing),
 * and sharded PyTorch (`pytorch_model.bin.index.json`). Node only.
 * @module
 */
import { readFile, readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { HostTensor, SafetensorsFile } from '@reformer/core';
import { readPyTorchFile, readSafetensorsFile } from '@reformer/core/node';
import {
  MissingWeightsError,
  ShardIndexError,
  WEIGHTS_FILE_NAMES,
  checkShard,
  missingWeightsMessage,
  parseShardIndex,
  type WeightsFileName,
} from './weights-names.js';

export { MissingWeightsError, ShardIndexError, WEIGHTS_FILE_NAMES, parseShardIndex, type WeightsFileName } from './weights-names.js';

/** The weights of a folder, read, and where they came from. */
export interface DirWeights extends SafetensorsFile {
  /** The file that was chosen (for sharded checkpoints, the index). */
  source: WeightsFileName;
  /** Every file read, in order (the shards, for a sharded checkpoint). */
  files: string[];
}

/** Which weights file of `dir` {@link readWeightsFromDir} would read. */
export async function findWeightsFile(dir: string): Promise<WeightsFileName> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT')
      throw new MissingWeightsError(`${dir}: no such folder; pass the folder that holds config.json and the weights.`);
    throw e;
  }
  const found = WEIGHTS_FILE_NAMES.find((n) => names.includes(n));
  if (found !== undefined) return found;
  throw new MissingWeightsError(missingWeightsMessage(dir, names));
}

async function readSharded(
  dir: string,
  index: string,
  read: (path: string) => Promise<SafetensorsFile>,
): Promise<{ tensors: Map<string, HostTensor>; files: string[] }> {
  const shards = parseShardIndex(await readFile(join(dir, index), 'utf8'), join(dir, index));
  const tensors = new Map<string, HostTensor>();
  const files: string[] = [];
  for (const [file, names] of shards) {
    const path = join(dir, file);
    let shard: SafetensorsFile;
    try {
      shard = await read(path);
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') {
        throw new ShardIndexError(
          `${join(dir, index)} names shard ${file}, which is missing from ${dir}; download all ${shards.size} shards.`,
        );
      }
      throw e;
    }
    files.push(file);
    checkShard(path, index, names, shard.tensors);
    for (const [name, t] of shard.tensors) tensors.set(name, t);
  }
  return { tensors, files };
}

/**
 * Reads one weights file by its name: a `*.index.json` of a sharded checkpoint (its shards are read from
 * the same folder), a `*.safetensors` file, or else a PyTorch checkpoint (`*.bin`, `*.pt`, `*.pth`; zip or
 * legacy format, through core's restricted reader).
 *
 * @param path - the file.
 * @returns the tensors by name and the files read (for an index, its shards).
 * @throws {ShardIndexError} for a malformed index, a missing shard or a shard without a tensor its index
 *   puts in it; core's `SafetensorsError`, `CheckpointFormatError` or `PickleSecurityError` for a
 *   damaged or unsafe file; the Node `fs` error if it cannot be read.
 */
export async function readWeightsFile(path: string): Promise<SafetensorsFile & { files: string[] }> {
  const name = basename(path);
  if (name.endsWith('.index.json')) {
    const read = name.includes('safetensors') ? readSafetensorsFile : (p: string) => readPyTorchFile(p);
    const { tensors, files } = await readSharded(dirname(path), name, read);
    return { tensors, metadata: {}, files };
  }
  const file = name.endsWith('.safetensors') ? await readSafetensorsFile(path) : await readPyTorchFile(path);
  return { ...file, files: [name] };
}

/**
 * Reads the weights of a model folder: `model.safetensors` if there is one, else sharded safetensors,
 * else `pytorch_model.bin` (PyTorch zip or legacy format), else sharded PyTorch — the first of
 * {@link WEIGHTS_FILE_NAMES} present. PyTorch files go through core's restricted reader, which
 * executes nothing. Tensors come back as float32 / int32, ready for `loadModel`.
 *
 * @param dir - the folder.
 * @returns the tensors by name, the chosen file and the files read.
 * @throws {MissingWeightsError} if none of the files is there (the message lists what was looked for
 *   and what the folder holds).
 * @throws {ShardIndexError} for a malformed index, a missing shard, or a shard without a tensor its
 *   index puts in it.
 * @throws core's `SafetensorsError`, `CheckpointFormatError` or `PickleSecurityError` (naming the file)
 *   for a damaged or unsafe weights file.
 */
export async function readWeightsFromDir(dir: string): Promise<DirWeights> {
  const source = await findWeightsFile(dir);
  return { ...(await readWeightsFile(join(dir, source))), source };
}
