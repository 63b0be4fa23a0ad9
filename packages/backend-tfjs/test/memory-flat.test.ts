/** A 1000-step training loop keeps tfjs's numTensors (and our liveBytes) flat. */
import { AdamW, cast, crossEntropy, gradients, LayerNorm, Linear, mul, randomNormal, randomUniform, scalar, seedScope, sum, tidy } from '@reformer/core';
import { lshAttention } from '@reformer/lsh';
import { expect, it } from 'vitest';
import { onBackend } from './helpers.js';
import { createWasm, tf } from './setup-wasm.js';

it('1000 AdamW steps keep tf.memory().numTensors flat', async () => {
  const wasm = await createWasm();
  await onBackend(wasm, () => {
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
      }).dispose();
    let at10 = { tensors: 0, bytes: 0 };
    for (let i = 1; i <= 1000; i++) {
      step();
      if (i === 10) at10 = { tensors: tf.memory().numTensors, bytes: wasm.memory().liveBytes };
    }
    expect(at10.tensors).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(at10.tensors);
    expect(wasm.memory().liveBytes).toBe(at10.bytes);
    opt.dispose();
    for (const p of params) p.dispose();
    x.dispose();
    labels.dispose();
  });
  // Everything this backend created is gone.
  expect(wasm.memory().liveBytes).toBe(0);
}, 30_000);

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
