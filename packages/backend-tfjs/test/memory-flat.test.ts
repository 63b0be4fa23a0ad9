/** A 1000-step training loop keeps tfjs's numTensors (and our liveBytes) flat. */
import { gradients, randomNormal, seedScope, sum, tidy } from '@reformer/core';
import { tinyTrainer } from '@reformer/model/testing';
import { lshAttention } from '@reformer/lsh';
import { expect, it } from 'vitest';
import { onBackend } from './helpers.js';
import { createWasm, tf } from './setup-wasm.js';

it('1000 AdamW steps keep tf.memory().numTensors flat', async () => {
  const wasm = await createWasm();
  await onBackend(wasm, () => {
    const trainer = tinyTrainer({ inFeatures: 4, hidden: 8, classes: 3, batch: 4, lr: 1e-3, seed: 1 });
    let at10 = { tensors: 0, bytes: 0 };
    for (let i = 1; i <= 1000; i++) {
      trainer.step().dispose();
      if (i === 10) at10 = { tensors: tf.memory().numTensors, bytes: wasm.memory().liveBytes };
    }
    expect(at10.tensors).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(at10.tensors);
    expect(wasm.memory().liveBytes).toBe(at10.bytes);
    trainer.dispose();
  });
  // Everything this backend created is gone.
  expect(wasm.memory().liveBytes).toBe(0);
  // A hang guard, not a speed check: ~15 s alone, several times that beside other packages' tests.
}, 180_000);

it('LSH attention forward and backward keep tf.memory().numTensors flat (every host-path kernel frees what it creates)', async () => {
  const wasm = await createWasm();
  await onBackend(wasm, () => {
    const qk = seedScope(1, () => randomNormal([1, 2, 256, 16]));
    const v = seedScope(2, () => randomNormal([1, 2, 256, 16]));
    const call = () =>
      tidy(() => {
        gradients(() => sum(lshAttention(qk, v, { chunkLength: 32, nHashes: 2, nBuckets: 8, causal: true, seed: 3 }).output), [qk, v]);
      });
    call();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) call();
    expect(tf.memory().numTensors).toBe(before);
    qk.dispose();
    v.dispose();
  });
});
