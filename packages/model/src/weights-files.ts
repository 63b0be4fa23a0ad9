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
import { CheckpointError } from './checkpoint.js';

/** The weight files looked for, in order of preference (safetensors first: it loads faster and holds no code). */
export const WEIGHTS_FILE_NAMES = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json'] as const;

/** One of {@link WEIGHTS_FILE_NAMES}. */
export type WeightsFileName = (typeof WEIGHTS_FILE_NAMES)[number];

/** A folder holds none of the weight files {@link readWeightsFromDir} looks for. The message lists what it found. */
export class MissingWeightsError extends CheckpointError {}

/** A `*.index.json` of a sharded checkpoint is malformed, or a shard lacks a tensor the index puts in it. */
export class ShardIndexError extends CheckpointError {}

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
    if ((e as { code?: string }).code === 'ENOENT') throw new MissingWeightsError(`${dir}: no such folder; pass the folder that holds config.json and the weights.`);
    throw e;
  }
  const found = WEIGHTS_FILE_NAMES.find((n) => names.includes(n));
  if (found !== undefined) return found;
  const shown = names.filter((n) => !n.startsWith('.')).sort();
  throw new MissingWeightsError(
    `${dir}: no weights file. Looked for ${WEIGHTS_FILE_NAMES.join(', ')}; found ` +
      `${shown.length === 0 ? 'nothing' : `${shown.slice(0, 20).join(', ')}${shown.length > 20 ? `, and ${shown.length - 20} more` : ''}`}. ` +
      'Download the model folder completely (config.json and its weights), or save one with saveModel.',
  );
}

/** The shard files of an index, in order of first use, with the tensor names each must hold. */
export function parseShardIndex(text: string, indexName: string): Map<string, string[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ShardIndexError(`${indexName} is not JSON (${(e as Error).message}); download it again.`);
  }
  const map = (parsed as { weight_map?: unknown } | null)?.weight_map;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) {
    throw new ShardIndexError(`${indexName} has no "weight_map" object (tensor name → shard file); it is not a sharded checkpoint index.`);
  }
  const shards = new Map<string, string[]>();
  for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
    // Shards live next to the index: a path (or "..") could read files outside the folder.
    if (typeof file !== 'string' || file === '' || file === '.' || file === '..' || /[/\\]/.test(file)) {
      throw new ShardIndexError(`${indexName}: tensor ${JSON.stringify(name)} maps to ${JSON.stringify(file)}, expected a file name in the same folder.`);
    }
    const list = shards.get(file) ?? [];
    list.push(name);
    shards.set(file, list);
  }
  if (shards.size === 0) throw new ShardIndexError(`${indexName}: "weight_map" is empty; the index names no tensors.`);
  return shards;
}

async function readSharded(dir: string, index: string, read: (path: string) => Promise<SafetensorsFile>): Promise<{ tensors: Map<string, HostTensor>; files: string[] }> {
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
        throw new ShardIndexError(`${join(dir, index)} names shard ${file}, which is missing from ${dir}; download all ${shards.size} shards.`);
      }
      throw e;
    }
    files.push(file);
    const missing = names.filter((n) => !shard.tensors.has(n));
    if (missing.length > 0) {
      throw new ShardIndexError(
        `${path} lacks ${missing.length} tensor(s) that ${index} puts in it: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}; the shard and its index do not match.`,
      );
    }
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
