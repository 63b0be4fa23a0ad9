/**
 * Node-only checkpoint files of `@reformer/model` (they import `node:fs`): models as Hugging Face
 * `config.json` + `model.safetensors`, and training checkpoints with the optimizer state. Every file is
 * written atomically (temporary file, fsync, rename), so an interrupted save never damages what was on
 * disk before.
 * @module
 */
import { mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { serializeSafetensors, type Optimizer, type SafetensorsFile } from '@reformer/core';
import { readSafetensorsFile, writeFileAtomic } from '@reformer/core/node';
import { hostTensors, loadModel, serializeModel, type AnyReformerModel } from './checkpoint.js';
import type { ModelOptions } from './model.js';

/** File names of a saved model (Hugging Face's). */
export const CONFIG_FILE = 'config.json';
/** File names of a saved model (Hugging Face's). */
export const WEIGHTS_FILE = 'model.safetensors';
const OPTIMIZER_FILE = 'optimizer.safetensors';
const STATE_FILE = 'trainer_state.json';

/**
 * Writes `model` to `dir` (created if needed) as `config.json` + `model.safetensors` with Hugging Face
 * parameter names: loadable by `loadModelFromDir` and by Hugging Face `from_pretrained`. Each file is
 * replaced atomically; the weights are written first, so a crash in between leaves the previous config
 * with new weights of the same architecture, never a partial file.
 */
export async function saveModel(dir: string, model: AnyReformerModel): Promise<void> {
  const { config, weights } = await serializeModel(model);
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, WEIGHTS_FILE), weights);
  await writeFileAtomic(join(dir, CONFIG_FILE), config);
}

/**
 * Loads a model saved by {@link saveModel} (or a Hugging Face Reformer checkpoint directory with
 * `config.json` + `model.safetensors`). Errors: `SafetensorsError` naming the file (truncated or
 * corrupt weights), `StateDictError` (missing / unexpected names and shape mismatches, together),
 * `ReformerConfigError`, `CheckpointError`.
 */
export async function loadModelFromDir(dir: string, options: ModelOptions = {}): Promise<AnyReformerModel> {
  const [config, weights] = await Promise.all([readFile(join(dir, CONFIG_FILE), 'utf8'), readSafetensorsFile(join(dir, WEIGHTS_FILE))]);
  return loadModel({ config, weights }, options);
}

/** What a training checkpoint stores besides the model and optimizer tensors. */
export interface TrainerState {
  /** Training steps completed. */
  step: number;
  /** Anything else the trainer wants back on resume (schedule, data position, metrics). JSON-serialisable. */
  [key: string]: unknown;
}

/** A training checkpoint read back by {@link loadLatestCheckpoint}. */
export interface LoadedCheckpoint {
  /** The checkpoint's directory. */
  path: string;
  /** The model, built and loaded. */
  model: AnyReformerModel;
  /** The trainer state. */
  state: TrainerState;
  /** Loads the optimizer state into `optimizer` (which must be built over `model`'s parameters by name). */
  restoreOptimizer(optimizer: Optimizer): void;
}

const CHECKPOINT = /^checkpoint-(\d+)$/;

/**
 * Writes a training checkpoint `dir/checkpoint-<step>/` with the model (`config.json`,
 * `model.safetensors`), the optimizer state (`optimizer.safetensors`, tensors named
 * `<parameter>.<slot>`) and `trainer_state.json`. The directory is assembled under a temporary name and
 * renamed into place when complete, so a checkpoint either exists whole or not at all. With
 * `keep`, only the newest `keep` checkpoints are kept. Returns the checkpoint's path.
 */
export async function saveCheckpoint(
  dir: string,
  parts: { model: AnyReformerModel; optimizer?: Optimizer; state: TrainerState },
  options: { keep?: number } = {},
): Promise<string> {
  const name = `checkpoint-${String(parts.state.step).padStart(8, '0')}`;
  const final = join(dir, name);
  const tmp = join(dir, `.${name}.${process.pid}.${Date.now()}.tmp`);
  await mkdir(tmp, { recursive: true });
  try {
    await saveModel(tmp, parts.model);
    if (parts.optimizer) {
      const opt = parts.optimizer.stateDict();
      await writeFileAtomic(join(tmp, OPTIMIZER_FILE), serializeSafetensors(await hostTensors(opt.tensors), { step: String(opt.step) }));
    }
    await writeFileAtomic(join(tmp, STATE_FILE), `${JSON.stringify(parts.state, null, 2)}\n`);
    await rm(final, { recursive: true, force: true });
    await rename(tmp, final);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  if (options.keep !== undefined) {
    const all = await listCheckpoints(dir);
    for (const old of all.slice(0, Math.max(0, all.length - options.keep))) await rm(join(dir, old), { recursive: true, force: true });
  }
  return final;
}

/** Names of the complete checkpoints in `dir`, oldest first. */
export async function listCheckpoints(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return [];
    throw e;
  }
  return names.filter((n) => CHECKPOINT.test(n)).sort((a, b) => Number(CHECKPOINT.exec(a)![1]) - Number(CHECKPOINT.exec(b)![1]));
}

/** The newest checkpoint of `dir`, loaded; null when there is none. */
export async function loadLatestCheckpoint(dir: string, options: ModelOptions = {}): Promise<LoadedCheckpoint | null> {
  const names = await listCheckpoints(dir);
  const last = names[names.length - 1];
  if (last === undefined) return null;
  const path = join(dir, last);
  const state = JSON.parse(await readFile(join(path, STATE_FILE), 'utf8')) as TrainerState;
  let optimizerFile: SafetensorsFile | null = null;
  try {
    optimizerFile = await readSafetensorsFile(join(path, OPTIMIZER_FILE));
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOENT') throw e;
  }
  const model = await loadModelFromDir(path, options);
  return {
    path,
    model,
    state,
    restoreOptimizer(optimizer) {
      if (optimizerFile === null) return;
      optimizer.loadStateDict({ step: Number(optimizerFile.metadata['step'] ?? state.step), tensors: optimizerFile.tensors });
    },
  };
}
