/** A 1000-step training loop keeps liveBytes flat on WebGPU, and the buffer pool stays bounded. */
import { tinyTrainer } from '@reformer/model/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { WebGPUBackend } from '../src/index.js';
import { onBackend } from './helpers.js';
import { createTestBackend } from './setup.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await createTestBackend();
});
afterAll(() => gpu?.dispose());

it('1000 AdamW steps keep liveBytes (and pooled bytes) flat', async () => {
  let losses: number[] = [];
  await onBackend(gpu, async () => {
    const trainer = tinyTrainer({ inFeatures: 4, hidden: 8, classes: 3, batch: 4, lr: 1e-3, seed: 1 });
    let at10 = { live: 0, buffers: 0, pooled: 0 };
    for (let i = 1; i <= 1000; i++) {
      const loss = trainer.step();
      if (i % 250 === 1) losses.push((await loss.data())[0]!);
      loss.dispose();
      if (i === 10) {
        const m = gpu.memory();
        at10 = { live: m.liveBytes, buffers: m.liveBuffers, pooled: m.pooledBytes! };
      }
    }
    await gpu.sync();
    const m = gpu.memory();
    expect(at10.live).toBeGreaterThan(0);
    expect(m.liveBytes).toBe(at10.live);
    expect(m.liveBuffers).toBe(at10.buffers);
    // Every freed buffer returns to the pool once its flush is submitted, so the pool does not grow either.
    expect(m.pooledBytes).toBeLessThanOrEqual(2 * at10.pooled + 64 * 1024);
    trainer.dispose();
  });
  // The loss went down, and everything this backend created is gone.
  expect(losses[losses.length - 1]!).toBeLessThan(losses[0]!);
  expect(gpu.memory().liveBytes).toBe(0);
}, 300_000);
