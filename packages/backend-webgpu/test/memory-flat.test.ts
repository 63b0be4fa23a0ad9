/** A 1000-step training loop keeps liveBytes flat on WebGPU, and the buffer pool stays bounded. */
import { AdamW, cast, crossEntropy, gradients, LayerNorm, Linear, mul, randomNormal, randomUniform, scalar, seedScope, tidy } from '@reformer/core';
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
    const l1 = new Linear({ inFeatures: 4, outFeatures: 8, seed: 1 });
    const norm = new LayerNorm({ dim: 8 });
    const l2 = new Linear({ inFeatures: 8, outFeatures: 3, seed: 2 });
    const params = [...l1.parameters(), ...norm.parameters(), ...l2.parameters()];
    const opt = new AdamW(params, { lr: 1e-3 });
    const x = seedScope(1, () => randomNormal([4, 4]));
    const labels = tidy(() => cast(mul(seedScope(2, () => randomUniform([4])), scalar(3)), 'int32'));
    const step = () =>
      tidy(() => {
        const { value, grads } = gradients(() => crossEntropy(l2.forward(norm.forward(l1.forward(x))), labels), params);
        opt.step(grads);
        return value;
      });
    let at10 = { live: 0, buffers: 0, pooled: 0 };
    for (let i = 1; i <= 1000; i++) {
      const loss = step();
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
    opt.dispose();
    for (const p of params) p.dispose();
    x.dispose();
    labels.dispose();
  });
  // The loss went down, and everything this backend created is gone.
  expect(losses[losses.length - 1]!).toBeLessThan(losses[0]!);
  expect(gpu.memory().liveBytes).toBe(0);
}, 300_000);
