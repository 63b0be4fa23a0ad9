import { describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  SGD,
  ShapeMismatchError,
  cosineSchedule,
  deriveSeed,
  gradients,
  seedScope,
  tensor,
  tidy,
} from '@reformer/core';
import { ReformerModelWithLMHead, duplicationTask, train, type TrainBatch, type TrainProgress } from '../src/index.js';
import { randomIds, trainConfig } from './helpers.js';

const batch: TrainBatch = { batchSize: 2, length: 16, ids: randomIds(3, 32, 1, 12) };

async function snapshot(model: ReformerModelWithLMHead): Promise<Float32Array[]> {
  return Promise.all([...model.namedParameters().values()].map(async (p) => (await p.data()) as Float32Array));
}

describe('train: options', () => {
  it('reports the gradient norm of the step, clips to clipNorm, and reports the scheduled learning rate', async () => {
    const model = new ReformerModelWithLMHead(trainConfig(), { seed: 2 });
    // Independent gradient norm of step 1: the same loss under the same seed scope.
    const params = [...model.namedParameters().values()];
    const expectedNorm = tidy(() => {
      const { grads } = seedScope(deriveSeed(7, 1), () => gradients(() => model.loss(tensor(batch.ids, [2, 16], 'int32')), params));
      let sq = 0;
      for (const g of grads) for (const v of g.dataSync()) sq += v * v;
      return Math.sqrt(sq);
    });
    const before = await snapshot(model);
    const optimizer = new SGD(model.namedParameters(), { lr: 1 });
    const clipNorm = 1e-3;
    const progress: TrainProgress[] = [];
    await train({ model, optimizer, data: () => batch, steps: 1, seed: 7, clipNorm, onProgress: (p) => void progress.push(p) });
    expect(progress[0]!.gradNorm).toBeCloseTo(expectedNorm, 4);
    expect(expectedNorm).toBeGreaterThan(10 * clipNorm);
    // Plain SGD with lr 1: the whole update is the clipped gradient, whose norm is clipNorm.
    const after = await snapshot(model);
    let sq = 0;
    after.forEach((a, i) => a.forEach((v, j) => (sq += (v - before[i]![j]!) ** 2)));
    expect(Math.sqrt(sq)).toBeCloseTo(clipNorm, 5);
    model.dispose();
    optimizer.dispose();

    const m2 = new ReformerModelWithLMHead(trainConfig(), { seed: 2 });
    const o2 = new SGD(m2.namedParameters(), { lr: 0.1 });
    const schedule = cosineSchedule({ peak: 0.01, warmupSteps: 2, totalSteps: 6 });
    const lrs: number[] = [];
    const r = await train({ model: m2, optimizer: o2, data: () => batch, steps: 5, lr: schedule, onProgress: (p) => void lrs.push(p.lr) });
    expect(lrs).toEqual([1, 2, 3, 4, 5].map(schedule));
    expect(r.eval).toBeUndefined();
    m2.dispose();
    o2.dispose();
  });

  it('evaluates every evalEvery steps and after the last, checkpoints every checkpointEvery steps, and stops on abort', async () => {
    const task = duplicationTask({ length: 16, vocabSize: 12, evalBatches: 1, evalBatchSize: 2 });
    const model = new ReformerModelWithLMHead(trainConfig(), { seed: 2 });
    const optimizer = new SGD(model.namedParameters(), { lr: 0.01 });
    const evaluated: number[] = [];
    const saved: number[] = [];
    const controller = new AbortController();
    const reports: number[] = [];
    const result = await train({
      model,
      optimizer,
      data: task,
      batchSize: 2,
      steps: 7,
      evalEvery: 3,
      progressEvery: 2,
      evaluate: async (m, step) => {
        expect(m.training).toBe(false);
        evaluated.push(step);
        return task.evaluate(m);
      },
      checkpointEvery: 2,
      saveCheckpoint: async (c) => void saved.push(c.state.step),
      onProgress: (p) => void reports.push(p.step),
    });
    expect(evaluated).toEqual([3, 6, 7]);
    expect(saved).toEqual([2, 4, 6, 7]);
    expect(reports).toEqual([2, 3, 4, 6, 7]);
    expect(result.eval).toHaveProperty('accuracy');
    expect(model.training).toBe(true);

    const stopped = await train({
      model,
      optimizer,
      data: task,
      batchSize: 2,
      steps: 20,
      signal: controller.signal,
      saveCheckpoint: async (c) => void saved.push(c.state.step),
      onProgress: (p) => {
        if (p.step === 3) controller.abort();
      },
    });
    expect(stopped).toMatchObject({ step: 3, stopped: true });
    expect(saved.at(-1)).toBe(3);
    model.dispose();
    optimizer.dispose();
  });

  it('with evalData, reports the mean loss over those batches of the model at that step', async () => {
    const model = new ReformerModelWithLMHead(trainConfig({ hash_seed: 4 }), { seed: 2 });
    const optimizer = new SGD(model.namedParameters(), { lr: 0.05 });
    const evalData: TrainBatch[] = [1, 2].map((s) => ({ batchSize: 2, length: 16, ids: randomIds(40 + s, 32, 1, 12) }));
    const independent = (): number =>
      tidy(() => evalData.reduce((acc, b) => acc + model.loss(tensor(b.ids, [2, 16], 'int32')).dataSync()[0]!, 0) / evalData.length);
    const seen: { step: number; loss: number; expected: number }[] = [];
    await train({
      model,
      optimizer,
      data: () => batch,
      steps: 4,
      evalEvery: 2,
      evalData,
      onProgress: (p) => {
        if (p.eval !== undefined) seen.push({ step: p.step, loss: p.eval['loss']!, expected: independent() });
      },
    });
    expect(seen.map((e) => e.step)).toEqual([2, 4]);
    for (const e of seen) expect(e.loss).toBeCloseTo(e.expected, 6);
    expect(seen[0]!.loss).not.toBeCloseTo(seen[1]!.loss, 6);
    model.dispose();
    optimizer.dispose();
  });

  it('rejects bad options and malformed batches by name', async () => {
    const model = new ReformerModelWithLMHead(trainConfig(), { seed: 2 });
    const optimizer = new SGD(model.namedParameters(), { lr: 0.01 });
    const base = { model, optimizer, data: () => batch };
    await expect(train({ ...base, steps: -1 })).rejects.toThrow(/steps must be a non-negative integer, got -1/);
    await expect(train({ ...base, steps: 1, clipNorm: 0 })).rejects.toThrow(/clipNorm must be a positive number/);
    await expect(train({ ...base, steps: 1, data: {} as never })).rejects.toThrow(InvalidArgumentError);
    await expect(train({ ...base, steps: 1, data: () => ({ ...batch, ids: batch.ids.subarray(1) }) })).rejects.toThrow(ShapeMismatchError);
    await expect(train({ ...base, steps: 1, data: () => ({ ...batch, ids: batch.ids.subarray(1) }) })).rejects.toThrow(
      /batch of step 1: batch\.ids holds 31 values/,
    );
    model.dispose();
    optimizer.dispose();
  });
});

describe('train and tasks are browser-safe', () => {
  it('no module under src/train or src/tasks imports a Node built-in or the Node entry', async () => {
    const { readdir, readFile } = await import('node:fs/promises');
    const files: string[] = [];
    for (const sub of ['train', 'tasks']) {
      const dir = new URL(`../src/${sub}/`, import.meta.url);
      for (const f of await readdir(dir)) files.push(await readFile(new URL(f, dir), 'utf8'));
    }
    expect(files.length).toBeGreaterThanOrEqual(6);
    const imports = files.flatMap((source) => [...source.matchAll(/from '([^']+)'/g)].map((m) => m[1]!));
    expect(imports.length).toBeGreaterThan(files.length);
    for (const spec of imports) expect(spec).not.toMatch(/^node:|^(fs|path|os|child_process|url)$|\/node(\.js)?$|^@reformer\/core\/node$/);
  });
});
