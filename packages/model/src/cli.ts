#!/usr/bin/env node
/**
 * `reformer-train`: train a Reformer language model from the shell on the paper's duplication task or
 * on any text file (byte-level), with checkpoints, resume, periodic evaluation and a progress bar.
 * Run `reformer-train --help` for the flags.
 * @module
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { Adam, ReformerError, constantSchedule, cosineSchedule, warmupRsqrtSchedule, type Schedule } from '@reformer/core';
import { ReformerConfigError, type ReformerConfig } from './config.js';
import { ReformerModelWithLMHead } from './model.js';
import { listCheckpoints, loadLatestCheckpoint, readTrainerState, removeCheckpoints, saveCheckpoint, saveModel } from './node.js';
import { bytesFlag, choice, int, num, parseCommandLine, type CliOptions } from './cli/args.js';
import { CheckpointDirInUseError, CliError, UsageError } from './cli/errors.js';
import { checkTrainingMemory, trainingMemory } from './cli/memory.js';
import { backendChoice, startCliBackend, type CliBackend } from './cli/backend.js';
import { checkOutputDir } from './cli/outputs.js';
import { formatDuration, formatMetrics, progressBar, progressLine } from './cli/progress.js';
import { checkResume, formatChange, type RunIdentity } from './cli/run-identity.js';
import { USAGE } from './cli/usage.js';
import { charLMTask } from './tasks/char-lm.js';
import { duplicationTask } from './tasks/duplication.js';
import type { LanguageModel, Metrics, Task } from './tasks/task.js';
import { train } from './train/train.js';
import { runWhenInvoked } from './cli/entry.js';

export { parseCommandLine, type CliOptions } from './cli/args.js';
export { formatDuration, progressBar, progressLine } from './cli/progress.js';
export { USAGE } from './cli/usage.js';
export { CheckpointDirInUseError, CliError, OutputPathError, RunMismatchError, TrainingMemoryError, UsageError } from './cli/errors.js';

/** Everything a run needs, validated from the flags. @internal */
export interface RunPlan {
  task: Task;
  config: Partial<ReformerConfig>;
  steps: number;
  batch: number;
  lr: number;
  schedule: Schedule;
  clip: number;
  seed: number;
  evalEvery: number;
  evalBatches: number;
  evalHashes: number[] | undefined;
  checkpointDir: string | undefined;
  checkpointEvery: number;
  keep: number;
  resume: boolean;
  overwrite: boolean;
  out: string;
  logEvery: number;
  /** The memory bound (bytes) and where it came from. */
  maxMemory: number;
  maxMemorySource: string;
  /** The settings that shape the weights, stored with each checkpoint. */
  run: RunIdentity;
}

/**
 * Builds the run plan: reads the text file, checks every flag. Throws {@link UsageError}.
 * @param resumed - the identity of the run being resumed, if known: a default that depends on other
 *   flags (the warmup, from --steps) is taken from it, so that only what the user changed differs.
 */
export async function planRun({ task: taskName, flags }: CliOptions, resumed?: RunIdentity): Promise<RunPlan> {
  const seed = int(flags, 'seed', 0, 0);
  const steps = int(flags, 'steps', 1000, 1);
  const length = int(flags, 'length', 256, 2);
  const run: RunIdentity = { task: taskName, length };
  let task: Task;
  if (taskName === 'duplication') {
    if (flags.text !== undefined) throw new UsageError('--text is for char-lm; duplication makes its own data.');
    if (flags['valid-fraction'] !== undefined)
      throw new UsageError('--valid-fraction is for char-lm; duplication draws its validation sequences from their own seed.');
    if (length % 2 !== 0 || length < 4) throw new UsageError(`--length must be even and ≥ 4 for duplication, got '${flags.length}'.`);
    const vocab = int(flags, 'vocab', 64, 2);
    run['vocab'] = vocab;
    task = duplicationTask({ length, vocabSize: vocab, seed, evalBatches: int(flags, 'eval-batches', 4, 1) });
  } else {
    if (flags.vocab !== undefined) throw new UsageError('--vocab is for duplication; char-lm uses the 256 byte values.');
    if (flags.text === undefined) throw new UsageError('char-lm needs --text FILE.');
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(flags.text));
    } catch (e) {
      throw new UsageError(`--text: cannot read '${flags.text}' (${(e as Error).message}).`);
    }
    const validFraction = num(flags, 'valid-fraction', 0.1, 0, 1);
    run['text'] = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    run['valid-fraction'] = validFraction;
    try {
      task = charLMTask({
        text: bytes,
        length,
        validFraction,
        seed,
        ...(flags['eval-batches'] !== undefined ? { evalBatches: int(flags, 'eval-batches', 4, 1) } : {}),
      });
    } catch (e) {
      throw new UsageError(`--text '${flags.text}': ${(e as Error).message}`);
    }
  }
  const attention = choice(flags, 'attention', 'lsh', ['lsh', 'local', 'full'] as const);
  const dModel = int(flags, 'd-model', 128, 1);
  const heads = int(flags, 'heads', 4, 1);
  if (flags['head-size'] === undefined && dModel % heads !== 0) {
    throw new UsageError(`--heads ${heads} does not divide --d-model ${dModel}; pass --head-size.`);
  }
  const chunk = int(flags, 'chunk', 32, 1);
  const hashes = int(flags, 'hashes', 1, 1);
  if (attention !== 'lsh' && flags.hashes !== undefined)
    throw new UsageError(`--hashes needs --attention lsh, got --attention ${attention}.`);
  let buckets: number | null = null;
  if (flags.buckets !== undefined) {
    buckets = int(flags, 'buckets', 0, 2);
    if (buckets % 2 !== 0) throw new UsageError(`--buckets must be even, got '${flags.buckets}'.`);
  }
  let axial: [number, number] | undefined;
  if (flags.axial !== undefined) {
    const m = /^(\d+)x(\d+)$/.exec(flags.axial);
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new UsageError(`--axial must be A0xA1 (e.g. 16x16), got '${flags.axial}'.`);
    axial = [Number(m[1]), Number(m[2])];
    if (axial[0] * axial[1] < length)
      throw new UsageError(`--axial ${flags.axial} covers ${axial[0] * axial[1]} positions, fewer than --length ${length}.`);
  }
  const dropout = num(flags, 'dropout', 0, 0, 0.99);
  const config: Partial<ReformerConfig> = {
    attn_layers: Array.from({ length: int(flags, 'layers', 1, 1) }, () => attention),
    is_decoder: true,
    hidden_size: dModel,
    num_attention_heads: heads,
    attention_head_size: int(flags, 'head-size', Math.floor(dModel / heads), 1),
    feed_forward_size: int(flags, 'ff', 2 * dModel, 1),
    vocab_size: task.vocabSize,
    lsh_attn_chunk_length: chunk,
    local_attn_chunk_length: chunk,
    num_hashes: hashes,
    num_buckets: buckets,
    hidden_dropout_prob: dropout,
    local_attention_probs_dropout_prob: dropout,
    lsh_attention_probs_dropout_prob: 0,
    eos_token_id: null,
    pad_token_id: 0,
    ...(axial !== undefined
      ? {
          axial_pos_embds: true,
          axial_pos_shape: axial,
          axial_pos_embds_dim: [Math.floor(dModel / 2), dModel - Math.floor(dModel / 2)] as [number, number],
        }
      : { axial_pos_embds: false, max_position_embeddings: length }),
  };
  const lr = num(flags, 'lr', 1e-3, 0);
  const resumedWarmup = resumed?.['warmup'];
  const warmup = int(flags, 'warmup', typeof resumedWarmup === 'number' ? resumedWarmup : Math.min(100, Math.floor(steps / 10)), 0);
  const scheduleName = choice(flags, 'schedule', 'cosine', ['cosine', 'rsqrt', 'constant'] as const);
  let schedule: Schedule;
  if (scheduleName === 'constant') schedule = constantSchedule(lr);
  else if (scheduleName === 'rsqrt') schedule = warmupRsqrtSchedule({ peak: lr, warmupSteps: Math.max(1, warmup) });
  else {
    if (warmup >= steps) throw new UsageError(`--warmup ${warmup} must be below --steps ${steps} for the cosine schedule.`);
    schedule = cosineSchedule({ peak: lr, warmupSteps: warmup, totalSteps: steps + 1 }); // + 1: the last step still learns
  }
  let evalHashes: number[] | undefined;
  if (flags['eval-hashes'] !== undefined) {
    if (attention !== 'lsh') throw new UsageError(`--eval-hashes needs --attention lsh, got --attention ${attention}.`);
    const parts = flags['eval-hashes'].split(',');
    evalHashes = parts.map((p) => {
      const v = Number(p);
      if (p.trim() === '' || !Number.isSafeInteger(v) || v < 1)
        throw new UsageError(`--eval-hashes must be a comma-separated list of integers ≥ 1, got '${flags['eval-hashes']}'.`);
      return v;
    });
  }
  const evalEvery = int(flags, 'eval-every', 0, 0);
  const checkpointDir = flags['checkpoint-dir'];
  if (flags.resume && checkpointDir === undefined) throw new UsageError('--resume needs --checkpoint-dir.');
  if (flags.overwrite && checkpointDir === undefined) throw new UsageError('--overwrite needs --checkpoint-dir.');
  if (flags.overwrite && flags.resume)
    throw new UsageError('--overwrite starts a new run and --resume continues the old one: give one of them.');
  const batch = int(flags, 'batch', 8, 1);
  const clip = num(flags, 'clip', 1, 0);
  Object.assign(run, {
    layers: config.attn_layers!.length,
    attention,
    'd-model': dModel,
    heads,
    'head-size': config.attention_head_size!,
    ff: config.feed_forward_size!,
    hashes,
    buckets,
    chunk,
    axial: axial === undefined ? null : axial.join('x'),
    dropout,
    steps,
    batch,
    lr,
    schedule: scheduleName,
    warmup,
    clip,
    seed,
  });
  const machine = totalmem();
  if (checkpointDir === undefined && flags['checkpoint-every'] !== undefined)
    throw new UsageError('--checkpoint-every needs --checkpoint-dir.');
  return {
    task,
    config,
    steps,
    batch,
    lr,
    schedule,
    clip,
    seed,
    evalEvery,
    evalBatches: int(flags, 'eval-batches', 4, 1),
    evalHashes,
    checkpointDir,
    checkpointEvery: int(flags, 'checkpoint-every', evalEvery > 0 ? evalEvery : Math.max(1, Math.floor(steps / 10)), 1),
    keep: int(flags, 'keep', 3, 1),
    resume: flags.resume === true,
    overwrite: flags.overwrite === true,
    out: flags.out ?? (checkpointDir !== undefined ? join(checkpointDir, 'final') : `reformer-${taskName}`),
    logEvery: int(flags, 'log-every', Math.max(1, Math.floor(steps / 20)), 1),
    maxMemory: bytesFlag(flags, 'max-memory', machine),
    maxMemorySource: flags['max-memory'] !== undefined ? 'from --max-memory' : "this machine's memory; raise it with --max-memory",
    run,
  };
}

interface Output {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** The run identity recorded in the newest readable checkpoint state of `dir`, if any. */
async function peekRun(dir: string): Promise<RunIdentity | undefined> {
  for (const name of (await listCheckpoints(dir)).reverse()) {
    try {
      const run = (await readTrainerState(join(dir, name)))['run'];
      return run !== null && typeof run === 'object' ? (run as RunIdentity) : undefined;
    } catch {
      // a damaged checkpoint: loadLatestCheckpoint reports it
    }
  }
  return undefined;
}

/**
 * Everything checked before the model is built: the memory the flags need, the output paths, and
 * whether the checkpoint directory belongs to another run.
 */
async function preflight(plan: RunPlan, out: Output): Promise<void> {
  checkTrainingMemory(trainingMemory(plan.config, plan.batch, plan.task.length), plan.maxMemory, plan.maxMemorySource);
  const dir = plan.checkpointDir;
  if (dir !== undefined) await checkOutputDir('--checkpoint-dir', dir);
  await checkOutputDir('--out', plan.out);
  if (dir === undefined) return;
  if (plan.resume) return;
  const existing = await listCheckpoints(dir);
  if (existing.length === 0) return;
  if (!plan.overwrite) {
    throw new CheckpointDirInUseError(
      `--checkpoint-dir ${dir} already holds checkpoints of a run (${existing.join(', ')}). ` +
        'Pass --resume to continue that run, --overwrite to delete them and start this one, or choose another directory.',
    );
  }
  await removeCheckpoints(dir);
  out.write(`--overwrite: deleted the previous run's checkpoints in ${dir} (${existing.join(', ')})\n`);
}

/** Runs the CLI; returns the exit status (0 done, 1 failed, 2 bad command line, 130 interrupted). */
export async function main(argv: readonly string[], out: Output = process.stdout, err: Output = process.stderr): Promise<number> {
  try {
    return await runCli(argv, out, err);
  } catch (e) {
    if (e instanceof UsageError) {
      err.write(`reformer-train: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof CliError) {
      err.write(`reformer-train: ${e.message}\n`);
      return 2;
    }
    if (e instanceof ReformerError) {
      err.write(`reformer-train: ${e.name}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

async function runCli(argv: readonly string[], out: Output, err: Output): Promise<number> {
  const cli = parseCommandLine(argv);
  if (cli === 'help') {
    out.write(USAGE);
    return 0;
  }
  const choice = backendChoice(cli.flags.backend, cli.flags.threads, (m) => new UsageError(m));
  const resumeDir = cli.flags.resume === true ? cli.flags['checkpoint-dir'] : undefined;
  const plan = await planRun(cli, resumeDir !== undefined ? await peekRun(resumeDir) : undefined);
  await preflight(plan, out);
  // The backend is current before the model is built; it is freed (the wasm workers end) on every way out.
  const backend = await startCliBackend(choice, 'reformer-train', err);
  try {
    return await trainOn(plan, backend, out, err);
  } finally {
    await backend.dispose();
  }
}

/** Builds the model on the current backend and trains it; returns the exit status. */
async function trainOn(plan: RunPlan, backend: CliBackend, out: Output, err: Output): Promise<number> {
  let model: ReformerModelWithLMHead;
  try {
    model = new ReformerModelWithLMHead(plan.config, { seed: plan.seed });
  } catch (e) {
    if (e instanceof ReformerConfigError) throw new UsageError(`these flags make an invalid model:\n${e.message}`);
    if (e instanceof ReformerError) throw new CliError(`these flags make a model that cannot be built:\n${e.name}: ${e.message}`);
    throw e;
  }
  const optimizer = new Adam(model.namedParameters(), { lr: plan.schedule });
  const { task } = plan;
  const c = model.config;
  out.write(
    `reformer-train ${task.name}: ${c.attn_layers.length} × ${c.attn_layers[0]} layer(s), d_model ${c.hidden_size}, ${c.num_attention_heads} heads, ` +
      `${c.attn_layers.includes('lsh') ? `${c.num_hashes} hash round(s), ` : ''}length ${task.length}, vocab ${c.vocab_size}, ` +
      `${model.numParameters().toLocaleString('en-US')} parameters; ${plan.steps} steps × ${plan.batch} sequences, lr ${plan.lr}\n` +
      `backend: ${backend.description}\n`,
  );
  const evaluate = plan.evalHashes
    ? async (m: LanguageModel): Promise<Metrics> => {
        const metrics: Metrics = {};
        for (const h of plan.evalHashes!) {
          const r = await task.evaluate(m, { nHashes: h, batches: plan.evalBatches, seed: plan.seed });
          for (const [k, v] of Object.entries(r)) metrics[`${k}@${h}`] = v;
        }
        return metrics;
      }
    : (m: LanguageModel) => task.evaluate(m, { batches: plan.evalBatches, seed: plan.seed });

  const tty = out.isTTY === true;
  let barShown = false;
  const clearBar = (): void => {
    if (barShown) out.write('\r\x1b[2K');
    barShown = false;
  };
  // Ctrl-C: the first stops after the current step (train gives the event loop a turn every step) and
  // the step is saved; later ones wait for that save, so the files on disk are always complete.
  const controller = new AbortController();
  let saving = false;
  const onSigint = (): void => {
    clearBar();
    if (!controller.signal.aborted && !saving) {
      controller.abort(new Error('interrupted (SIGINT)'));
      err.write(
        `reformer-train: interrupted; stopping after this step and saving ${plan.checkpointDir !== undefined ? 'a checkpoint' : 'the model'}\n`,
      );
    } else {
      err.write(
        'reformer-train: still saving; waiting for the save to finish so that the files stay complete ' +
          '(kill -9 quits at once and leaves the previous files intact)\n',
      );
    }
  };
  process.on('SIGINT', onSigint);
  const dir = plan.checkpointDir;
  let lastCheckpoint: string | undefined;
  try {
    const result = await train({
      model,
      optimizer,
      data: task,
      steps: plan.steps,
      batchSize: plan.batch,
      seed: plan.seed,
      ...(plan.clip > 0 ? { clipNorm: plan.clip } : {}),
      evalEvery: plan.evalEvery,
      evaluate,
      signal: controller.signal,
      ...(dir !== undefined
        ? {
            checkpointEvery: plan.checkpointEvery,
            saveCheckpoint: async (ck) => {
              lastCheckpoint = await saveCheckpoint(
                dir,
                { ...ck, state: { ...ck.state, task: task.name, run: plan.run } },
                { keep: plan.keep },
              );
            },
            ...(plan.resume
              ? {
                  loadCheckpoint: async () => {
                    const point = await loadLatestCheckpoint(dir, { onWarning: (m) => err.write(`reformer-train: warning: ${m}\n`) });
                    if (point === null) return null;
                    clearBar();
                    const saved = point.state['run'];
                    if (saved !== null && typeof saved === 'object') {
                      let changes;
                      try {
                        changes = checkResume(point.path, saved as RunIdentity, plan.run);
                      } catch (e) {
                        point.model.dispose();
                        throw e;
                      }
                      if (changes.length > 0) out.write(`resuming with changed settings: ${changes.map(formatChange).join(', ')}\n`);
                    } else {
                      err.write(
                        `reformer-train: warning: ${point.path} records no run settings (an older version wrote it); the flags cannot be checked against it\n`,
                      );
                    }
                    out.write(`resuming from ${point.path} (step ${point.state.step})\n`);
                    return point;
                  },
                }
              : {}),
          }
        : {}),
      onProgress: (p) => {
        if (tty) {
          const line = progressBar(p);
          const columns = out.columns ?? 120;
          out.write(`\r\x1b[2K${line.length > columns - 1 ? line.slice(0, columns - 1) : line}`);
          barShown = true;
        } else if (p.step % plan.logEvery === 0 || p.step === p.steps) {
          out.write(`${progressLine(p)}\n`);
        }
        if (p.eval !== undefined) {
          clearBar();
          out.write(`eval @ step ${p.step}: ${formatMetrics(p.eval)}\n`);
        }
      },
    });
    saving = true;
    clearBar();
    const summary =
      `${result.stopped ? 'stopped' : 'done'} at step ${result.step} in ${formatDuration(result.elapsedSeconds)}; loss ${result.loss.toFixed(4)}` +
      `${result.eval ? `; ${formatMetrics(result.eval)}` : ''}\n`;
    if (result.stopped && dir !== undefined) {
      // train saved the step it stopped after; the final model is written only by a finished run.
      out.write(
        `${summary}${lastCheckpoint !== undefined ? `saved the checkpoint ${lastCheckpoint}` : `no new checkpoint (no step ran)`}; ` +
          `continue with the same flags and --resume\n`,
      );
      return 130;
    }
    if (result.step === result.startStep && result.startStep >= plan.steps)
      out.write(`nothing to do: the checkpoint is at step ${result.startStep} ≥ --steps ${plan.steps}\n`);
    await saveModel(plan.out, model);
    out.write(`${summary}saved the model to ${plan.out}\n`);
    return result.stopped ? 130 : 0;
  } finally {
    process.off('SIGINT', onSigint);
    model.dispose();
    optimizer.dispose();
  }
}

runWhenInvoked('reformer-train', 'cli', main);
