/**
 * The weight file names of a Hugging Face model folder and the errors of finding and reading them.
 * Browser-safe: used by the Node folder reader (`weights-files.ts`) and by `fromPretrained` over
 * `fetch` or `File`s.
 * @module
 */
import { CheckpointError } from './checkpoint.js';

/** The weight files looked for, in order of preference (safetensors first: it loads faster and holds no code). */
export const WEIGHTS_FILE_NAMES = [
  'model.safetensors',
  'model.safetensors.index.json',
  'pytorch_model.bin',
  'pytorch_model.bin.index.json',
] as const;

/** One of {@link WEIGHTS_FILE_NAMES}. */
export type WeightsFileName = (typeof WEIGHTS_FILE_NAMES)[number];

/** A model folder (or URL, or set of files) holds none of the weight files looked for. The message lists what was found. */
export class MissingWeightsError extends CheckpointError {}

/** A `*.index.json` of a sharded checkpoint is malformed, or a shard is missing or lacks a tensor the index puts in it. */
export class ShardIndexError extends CheckpointError {}

/** The message of a {@link MissingWeightsError}: what was looked for in `where`, and what is there. */
export function missingWeightsMessage(where: string, found: readonly string[] | null): string {
  const shown = (found ?? []).filter((n) => !n.startsWith('.')).sort();
  const list =
    shown.length === 0 ? 'nothing' : `${shown.slice(0, 20).join(', ')}${shown.length > 20 ? `, and ${shown.length - 20} more` : ''}`;
  return (
    `${where}: no weights file. Looked for ${WEIGHTS_FILE_NAMES.join(', ')}; ` +
    `${found === null ? 'the server had none of them (HTTP 404)' : `found ${list}`}. ` +
    'Download the model folder completely (config.json and its weights), or save one with saveModel.'
  );
}

/**
 * The shard files a sharded checkpoint's index names, in order of first use, with the tensor names
 * each must hold.
 *
 * @param text - the index (`model.safetensors.index.json` / `pytorch_model.bin.index.json`).
 * @param indexName - its name or path, for errors.
 * @throws {ShardIndexError} if it is not JSON, has no `weight_map`, or maps a tensor to a path
 *   outside its folder.
 */
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
      throw new ShardIndexError(
        `${indexName}: tensor ${JSON.stringify(name)} maps to ${JSON.stringify(file)}, expected a file name in the same folder.`,
      );
    }
    const list = shards.get(file) ?? [];
    list.push(name);
    shards.set(file, list);
  }
  if (shards.size === 0) throw new ShardIndexError(`${indexName}: "weight_map" is empty; the index names no tensors.`);
  return shards;
}

/** Throws {@link ShardIndexError} unless `shard` holds every tensor its index puts in it. */
export function checkShard(shardName: string, indexName: string, names: readonly string[], tensors: ReadonlyMap<string, unknown>): void {
  const missing = names.filter((n) => !tensors.has(n));
  if (missing.length > 0) {
    throw new ShardIndexError(
      `${shardName} lacks ${missing.length} tensor(s) that ${indexName} puts in it: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}; the shard and its index do not match.`,
    );
  }
}
