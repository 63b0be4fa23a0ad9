import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Adam } from '@reformer/core';
import { ReformerModelWithLMHead, duplicationTask, train } from '../src/index.js';
import { loadLatestCheckpoint, saveCheckpoint } from '../src/node.js';
import { trainConfig } from './helpers.js';

const task = duplicationTask({ length: 16, vocabSize: 12, seed: 3 });
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function bits(model: { namedParameters(): Map<string, { data(): Promise<ArrayLike<number>> }> }): Promise<Map<string, Uint32Array>> {
  const out = new Map<string, Uint32Array>();
  for (const [name, p] of model.namedParameters()) out.set(name, new Uint32Array(Float32Array.from(await p.data()).buffer));
  return out;
}

describe('train: interrupting a run', () => {
  // An abort from a timer at a random moment: the loop must give the timer a turn between steps, stop
  // after the step it is in, save that step, and say it stopped.
  it.each([0, 1, 2])(
    'an abort from a timer at a random time (trial %i) stops within one step, and the saved checkpoint loads',
    async () => {
      const delay = 5 + Math.floor(Math.random() * 120);
      const dir = await mkdtemp(join(tmpdir(), 'reformer-interrupt-'));
      dirs.push(dir);
      const model = new ReformerModelWithLMHead(trainConfig({ vocab_size: 12 }), { seed: 1 });
      const optimizer = new Adam(model.namedParameters(), { lr: 1e-3 });
      const controller = new AbortController();
      const reason = new Error('stop requested');
      let completed = 0;
      let completedAtAbort = -1;
      controller.signal.addEventListener('abort', () => {
        completedAtAbort = completed;
      });
      const timer = setTimeout(() => controller.abort(reason), delay);
      const started = performance.now();
      const saved: number[] = [];
      const result = await train({
        model,
        optimizer,
        steps: 1_000_000,
        seed: 4,
        data: (step) => {
          // Without a turn for the timer the run would never stop: fail instead of hanging.
          if (performance.now() - started > 10_000) throw new Error(`the abort after ${delay} ms did not stop the run (step ${step})`);
          return task.batch('train', step - 1, 2);
        },
        signal: controller.signal,
        onProgress: (p) => {
          completed = p.step;
        },
        saveCheckpoint: async (c) => {
          saved.push(c.state.step);
          await saveCheckpoint(dir, c);
        },
      });
      clearTimeout(timer);
      expect(completedAtAbort, `abort after ${delay} ms`).toBeGreaterThanOrEqual(0);
      expect(result.stopped).toBe(true);
      expect(result.stopReason).toBe(reason);
      // The step running when the abort came is finished; no further step starts.
      expect(result.step - completedAtAbort, `abort after ${delay} ms, ${completedAtAbort} steps done then`).toBeLessThanOrEqual(1);
      expect(result.step).toBeGreaterThanOrEqual(completedAtAbort);
      expect(saved).toEqual([result.step]);
      const ck = await loadLatestCheckpoint(dir);
      expect(ck?.state.step).toBe(result.step);
      const [a, b] = [await bits(model), await bits(ck!.model)];
      for (const [name, x] of a) expect(b.get(name), name).toEqual(x);
      ck!.model.dispose();
      model.dispose();
      optimizer.dispose();
    },
  );

  it('an abort before the first step stops at once and reports the reason', async () => {
    const model = new ReformerModelWithLMHead(trainConfig({ vocab_size: 12 }), { seed: 1 });
    const optimizer = new Adam(model.namedParameters(), { lr: 1e-3 });
    const controller = new AbortController();
    controller.abort('early');
    const r = await train({ model, optimizer, data: task, batchSize: 2, steps: 5, signal: controller.signal });
    expect(r).toMatchObject({ step: 0, stopped: true, stopReason: 'early' });
    model.dispose();
    optimizer.dispose();
  });
});

describe('nextMacrotask', () => {
  it('without setImmediate (browsers) it still resolves on a later macrotask, after pending microtasks and a due timer', async () => {
    const { nextMacrotask } = await import('../src/train/yield.js');
    const g = globalThis as { setImmediate?: unknown };
    const saved = g.setImmediate;
    g.setImmediate = undefined;
    try {
      const order: string[] = [];
      void Promise.resolve().then(() => order.push('microtask'));
      const timer = new Promise<void>((r) => setTimeout(() => (order.push('timer'), r()), 0));
      await timer;
      await nextMacrotask();
      order.push('after');
      await nextMacrotask();
      expect(order).toEqual(['microtask', 'timer', 'after']);
    } finally {
      g.setImmediate = saved;
    }
  });
});
