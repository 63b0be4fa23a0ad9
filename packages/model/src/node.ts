/**
 * Node-only checkpoint files of `@reformer/model` (they import `node:fs`): models as Hugging Face
 * `config.json` + `model.safetensors`, and training checkpoints with the optimizer state. Every file is
 * written atomically (temporary file, fsync, rename), and a training checkpoint directory appears under
 * its name only once complete and on disk, so an interrupted save never damages what was on disk before.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  InvalidArgumentError,
  ReformerError,
  checkInteger,
  isInteger,
  serializeSafetensors,
  type Optimizer,
  type SafetensorsFile,
} from '@reformer/core';
import { readSafetensorsFile, writeFileAtomic } from '@reformer/core/node';
import { CheckpointError, hostTensors, loadModel, serializeModel, type AnyReformerModel } from './checkpoint.js';
import { nodeCheckpointFs, type CheckpointFs } from './durable-fs.js';
import type { ModelOptions } from './model.js';
import { readWeightsFromDir } from './weights-files.js';

export type { CheckpointFs } from './durable-fs.js';

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
 * Loads a model saved by {@link saveModel}, or a Hugging Face Reformer checkpoint directory:
 * `config.json` and its weights as `model.safetensors`, sharded safetensors, `pytorch_model.bin` (read
 * without executing anything) or sharded PyTorch, safetensors first (see `readWeightsFromDir`).
 * Errors: `MissingWeightsError` listing what was looked for and found, `SafetensorsError` /
 * core's `CheckpointFormatError` / `PickleSecurityError` naming the file, `StateDictError` (missing /
 * unexpected names and shape mismatches, together), `ReformerConfigError`, `CheckpointError`.
 */
export async function loadModelFromDir(dir: string, options: ModelOptions = {}): Promise<AnyReformerModel> {
  const [config, weights] = await Promise.all([readFile(join(dir, CONFIG_FILE), 'utf8'), readWeightsFromDir(dir)]);
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

/** Options of {@link saveCheckpoint}. */
export interface SaveCheckpointOptions {
  /** Keep only the newest `keep` checkpoints of the directory (default: keep all). */
  keep?: number;
  /** The file operations to use (default: `node:fs`, fsynced). Tests inject crashes through it. */
  fs?: CheckpointFs;
}

/** Options of {@link loadLatestCheckpoint}: the model options plus where warnings go. */
export interface LoadCheckpointOptions extends ModelOptions {
  /**
   * Called with a message naming each incomplete or damaged checkpoint directory that was skipped in
   * favour of an older complete one (default: `console.warn`).
   */
  onWarning?: (message: string) => void;
}

/** `checkpoint-<step>` (8 digits), or `checkpoint-<step>.<generation>` for a re-save of the same step. */
const CHECKPOINT = /^checkpoint-(\d+)(?:\.(\d+))?$/;
/** Scratch directories: `.<name>.<pid>.<random>.tmp` (a save being assembled), `….old` (one being removed). */
const SCRATCH = /^\.checkpoint-\d+(?:\.\d+)?\.(\d+)\.[0-9a-f]+\.(?:tmp|old)$/;
/** Scratch directories of saves running in this process (never cleaned up under their feet). */
const inProgress = new Set<string>();

function order(name: string): [number, number] {
  const m = CHECKPOINT.exec(name)!;
  return [Number(m[1]), m[2] === undefined ? 0 : Number(m[2])];
}

function byAge(a: string, b: string): number {
  const [sa, ga] = order(a);
  const [sb, gb] = order(b);
  return sa - sb || ga - gb;
}

function scratchName(name: string, kind: 'tmp' | 'old'): string {
  return `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.${kind}`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

/** Removes scratch directories left by saves that were killed (their process is gone) or crashed in this one. */
async function removeStaleScratch(dir: string, fs: CheckpointFs): Promise<void> {
  for (const name of await fs.readdir(dir)) {
    const m = SCRATCH.exec(name);
    if (m === null) continue;
    const path = join(dir, name);
    const pid = Number(m[1]);
    if (inProgress.has(path) || (pid !== process.pid && processAlive(pid))) continue;
    await fs.rm(path);
  }
}

/**
 * Takes checkpoints out of the directory: each is first renamed to a scratch name (atomic), so a crash
 * halfway through deleting it never leaves a partial directory under a checkpoint name.
 */
async function retire(dir: string, names: readonly string[], fs: CheckpointFs): Promise<void> {
  if (names.length === 0) return;
  const doomed: string[] = [];
  for (const name of names) {
    const old = join(dir, scratchName(name, 'old'));
    await fs.rename(join(dir, name), old);
    doomed.push(old);
  }
  await fs.syncDir(dir);
  for (const old of doomed) await fs.rm(old);
}

/**
 * Writes a training checkpoint `dir/checkpoint-<step>/` with the model (`config.json`,
 * `model.safetensors`), the optimizer state (`optimizer.safetensors`, tensors named
 * `<parameter>.<slot>`) and `trainer_state.json`.
 *
 * The save never leaves a moment without a complete checkpoint: the files are written and fsynced in a
 * scratch directory (`.checkpoint-….tmp`), which is fsynced and renamed to a name no checkpoint has yet,
 * and the parent directory is fsynced; only then are older checkpoints removed (renamed to a scratch
 * name first, then deleted). A re-save of a step that already has a checkpoint gets the next generation
 * name `checkpoint-<step>.<n>`, which {@link loadLatestCheckpoint} prefers; the previous generation is
 * removed after. Scratch directories left by killed saves are removed by the next save. With `keep`,
 * only the newest `keep` checkpoints are kept. Returns the checkpoint's path.
 */
export async function saveCheckpoint(
  dir: string,
  parts: { model: AnyReformerModel; optimizer?: Optimizer; state: TrainerState },
  options: SaveCheckpointOptions = {},
): Promise<string> {
  const fs = options.fs ?? nodeCheckpointFs;
  const { keep } = options;
  if (keep !== undefined) checkInteger('saveCheckpoint', 'keep', keep, 1);
  const step = parts.state.step;
  checkInteger('saveCheckpoint', 'state.step', step, 0);
  const stepName = `checkpoint-${String(step).padStart(8, '0')}`;
  // Everything that can fail without touching the disk first.
  const { config, weights } = await serializeModel(parts.model);
  let optimizerBytes: Uint8Array | undefined;
  if (parts.optimizer) {
    const opt = parts.optimizer.stateDict();
    optimizerBytes = serializeSafetensors(await hostTensors(opt.tensors), { step: String(opt.step) });
  }
  const stateText = `${JSON.stringify(parts.state, null, 2)}\n`;

  await fs.mkdir(dir);
  await removeStaleScratch(dir, fs);
  const tmp = join(dir, scratchName(stepName, 'tmp'));
  inProgress.add(tmp);
  try {
    await fs.mkdir(tmp);
    await fs.writeFile(join(tmp, WEIGHTS_FILE), weights);
    await fs.writeFile(join(tmp, CONFIG_FILE), config);
    if (optimizerBytes !== undefined) await fs.writeFile(join(tmp, OPTIMIZER_FILE), optimizerBytes);
    await fs.writeFile(join(tmp, STATE_FILE), stateText);
    await fs.syncDir(tmp);
    const existing = (await fs.readdir(dir)).filter((n) => CHECKPOINT.test(n)).sort(byAge);
    const sameStep = existing.filter((n) => order(n)[0] === step);
    const generation = sameStep.length === 0 ? 0 : Math.max(...sameStep.map((n) => order(n)[1])) + 1;
    const name = generation === 0 ? stepName : `${stepName}.${generation}`;
    await fs.rename(tmp, join(dir, name));
    await fs.syncDir(dir);
    // The new checkpoint is complete and durable: now the ones it replaces can go.
    const doomed = new Set(sameStep);
    if (keep !== undefined) {
      const kept = [...existing.filter((n) => !doomed.has(n)), name].sort(byAge);
      for (const n of kept.slice(0, Math.max(0, kept.length - keep))) if (n !== name) doomed.add(n);
    }
    await retire(dir, [...doomed], fs);
    return join(dir, name);
  } catch (e) {
    await fs.rm(tmp).catch(() => undefined);
    throw e;
  } finally {
    inProgress.delete(tmp);
  }
}

/**
 * Removes every checkpoint of `dir` (and scratch directories of killed saves), each renamed away
 * before it is deleted. For starting a new run over an old one on purpose.
 */
export async function removeCheckpoints(dir: string, options: { fs?: CheckpointFs } = {}): Promise<void> {
  const fs = options.fs ?? nodeCheckpointFs;
  const names = await listCheckpoints(dir);
  await retire(dir, names, fs);
  if (names.length > 0) await removeStaleScratch(dir, fs);
}

/** Names of the checkpoints in `dir`, oldest first (by step, then by generation). */
export async function listCheckpoints(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await nodeCheckpointFs.readdir(dir);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return [];
    throw e;
  }
  return names.filter((n) => CHECKPOINT.test(n)).sort(byAge);
}

/**
 * Reads a checkpoint's `trainer_state.json`.
 * @throws {CheckpointError} naming the file when it is not a JSON object with an integer `step` ≥ 0
 *   (for example truncated); the Node `fs` error when it cannot be read.
 */
export async function readTrainerState(checkpointPath: string): Promise<TrainerState> {
  const file = join(checkpointPath, STATE_FILE);
  const text = await readFile(file, 'utf8');
  let state: unknown;
  try {
    state = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${file}: not valid JSON (${(e as Error).message}); the file is truncated or damaged.`);
  }
  const step = (state as { step?: unknown } | null)?.step;
  if (state === null || typeof state !== 'object' || Array.isArray(state) || !isInteger(step, 0)) {
    throw new CheckpointError(`${file}: expected a JSON object with an integer "step" ≥ 0; the file is damaged or not a trainer state.`);
  }
  return state as TrainerState;
}

/** A checkpoint directory, loaded (throws when it is incomplete or damaged). */
async function loadCheckpointDir(path: string, options: ModelOptions): Promise<LoadedCheckpoint> {
  const state = await readTrainerState(path);
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

/** Errors that mean "this checkpoint directory is incomplete or damaged" (as opposed to, say, EACCES). */
function isDamage(e: unknown): boolean {
  return e instanceof ReformerError || ['ENOENT', 'ENOTDIR', 'EISDIR'].includes((e as { code?: string } | null)?.code ?? '');
}

/**
 * The newest complete checkpoint of `dir`, loaded; null when the directory has no checkpoint. A
 * checkpoint that cannot be read (a missing or truncated file, left by a crash of an older version or
 * by damage) is skipped with a warning naming it, and the next older one is tried.
 * @throws {CheckpointError} when checkpoints exist but none is complete (the message lists each one's
 *   problem).
 */
export async function loadLatestCheckpoint(dir: string, options: LoadCheckpointOptions = {}): Promise<LoadedCheckpoint | null> {
  const { onWarning = (m: string) => console.warn(m), ...modelOptions } = options;
  const names = await listCheckpoints(dir);
  const problems: string[] = [];
  for (const name of names.reverse()) {
    const path = join(dir, name);
    try {
      return await loadCheckpointDir(path, modelOptions);
    } catch (e) {
      if (!isDamage(e)) throw e;
      const problem = `${path}: ${(e as Error).message}`;
      problems.push(problem);
      onWarning(`skipping the incomplete or damaged checkpoint ${problem}`);
    }
  }
  if (problems.length > 0) throw new CheckpointError(`${dir}: none of its checkpoints is complete:\n  ${problems.join('\n  ')}`);
  return null;
}
export { loadTokenizerFromDir, TOKENIZER_FILES } from './tokenizer-files.js';
export { fromPretrained } from './pretrained-node.js';
export { findWeightsFile, readWeightsFile, readWeightsFromDir, type DirWeights } from './weights-files.js';
