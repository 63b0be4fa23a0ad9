import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Adam, warmupRsqrtSchedule } from '@reformer/core';
import { ReformerModelWithLMHead, TrainError, duplicationTask, train, type TrainOptions } from '../src/index.js';
import { listCheckpoints, loadLatestCheckpoint, saveCheckpoint } from '../src/node.js';
import { trainConfig } from './helpers.js';

// Dropout on and LSH rotations drawn fresh at every call (hash_seed null): every step's randomness
// matters, so only a loop that replays (seed, step) exactly can resume bit for bit.
const config = trainConfig({ hidden_dropout_prob: 0.1, vocab_size: 8 });
const task = duplicationTask({ length: 16, vocabSize: 8, seed: 2 });
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function setup(modelSeed: number): { model: ReformerModelWithLMHead; optimizer: Adam } {
  const model = new ReformerModelWithLMHead(config, { seed: modelSeed });
  const optimizer = new Adam(model.namedParameters(), { lr: warmupRsqrtSchedule({ peak: 3e-3, warmupSteps: 4 }) });
  return { model, optimizer };
}

function run(model: ReformerModelWithLMHead, optimizer: Adam, steps: number, extra: Partial<TrainOptions> = {}) {
  return train({ model, optimizer, data: task, batchSize: 3, steps, seed: 5, clipNorm: 1, ...extra });
}

async function params(model: ReformerModelWithLMHead): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, p] of model.namedParameters()) out.set(name, (await p.data()) as Float32Array);
  return out;
}

function expectBitEqual(a: Map<string, Float32Array>, b: Map<string, Float32Array>): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [name, x] of a) {
    const y = b.get(name)!;
    const bitsX = new Uint32Array(x.buffer, x.byteOffset, x.length);
    const bitsY = new Uint32Array(y.buffer, y.byteOffset, y.length);
    const bad = bitsX.findIndex((v, i) => v !== bitsY[i]);
    expect(bad, `${name}: first differing element`).toBe(-1);
  }
}

describe('train: resuming from a checkpoint', () => {
  it('2N steps in one run equal N steps, a checkpoint, and N resumed steps, bit for bit', async () => {
    const N = 4;
    const whole = setup(1);
    await run(whole.model, whole.optimizer, 2 * N);
    const expected = await params(whole.model);

    const dir = await mkdtemp(join(tmpdir(), 'reformer-resume-'));
    dirs.push(dir);
    const first = setup(1);
    const saved: number[] = [];
    await run(first.model, first.optimizer, N, {
      checkpointEvery: 2,
      saveCheckpoint: async (c) => {
        saved.push(c.state.step);
        await saveCheckpoint(dir, c, { keep: 2 });
      },
    });
    expect(saved).toEqual([2, 4]);
    expect(await listCheckpoints(dir)).toEqual(['checkpoint-00000002', 'checkpoint-00000004']);

    // A different initial model: everything must come from the checkpoint.
    const second = setup(77);
    const result = await run(second.model, second.optimizer, 2 * N, { loadCheckpoint: () => loadLatestCheckpoint(dir) });
    expect(result.startStep).toBe(N);
    expect(result.step).toBe(2 * N);
    expect(second.optimizer.stepCount).toBe(2 * N);
    expectBitEqual(await params(second.model), expected);

    // The check has teeth: another run seed gives other parameters.
    const other = setup(1);
    await run(other.model, other.optimizer, 2 * N, { seed: 6 });
    const differs = [...(await params(other.model))].some(([name, x]) => x.some((v, i) => v !== expected.get(name)![i]));
    expect(differs).toBe(true);
    for (const s of [whole, first, second, other]) {
      s.model.dispose();
      s.optimizer.dispose();
    }
  });

  it('refuses a checkpoint made with another seed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'reformer-resume-'));
    dirs.push(dir);
    const a = setup(1);
    await run(a.model, a.optimizer, 1, { saveCheckpoint: (c) => saveCheckpoint(dir, c) });
    const b = setup(1);
    await expect(run(b.model, b.optimizer, 2, { seed: 9, loadCheckpoint: () => loadLatestCheckpoint(dir) })).rejects.toThrow(TrainError);
    await expect(run(b.model, b.optimizer, 2, { seed: 9, loadCheckpoint: () => loadLatestCheckpoint(dir) })).rejects.toThrow(
      /seed 5.*seed 9/,
    );
    for (const s of [a, b]) {
      s.model.dispose();
      s.optimizer.dispose();
    }
  });

  it('starts from step 0 when the hook finds no checkpoint', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'reformer-resume-'));
    dirs.push(dir);
    const a = setup(1);
    const result = await run(a.model, a.optimizer, 2, { loadCheckpoint: () => loadLatestCheckpoint(dir) });
    expect(result.startStep).toBe(0);
    expect(result.step).toBe(2);
    a.model.dispose();
    a.optimizer.dispose();
  });
});
