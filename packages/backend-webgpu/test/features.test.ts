/**
 * Optional features on the Node adapter (Mesa's llvmpipe through OpenGL ES in CI): it has neither
 * `subgroups` nor `shader-f16`, so the backend reports them unavailable and every reducing kernel
 * compiles and runs its workgroup-memory (tree) variant, even when subgroups are asked for. The
 * subgroup variants themselves are compared with the tree path in `browser.test.ts` (SwiftShader has
 * `subgroups`).
 */
import { crossEntropy, gradients, layerNorm, logSumExp, max, randomNormal, seedScope, softmax, sum, tidy, cast, mul, randomUniform, scalar } from '@reformer/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { WebGPUBackend } from '../src/index.js';
import { createNodeWebGPUBackend } from '../src/node.js';
import { cpu, expectClose, host, onBackend } from './helpers.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  // Subgroups explicitly requested: still the tree path, since the device lacks the feature.
  gpu = await createNodeWebGPUBackend({ useSubgroups: true });
});
afterAll(() => gpu?.dispose());

const rn = (shape: number[], seed: number) => seedScope(seed, () => randomNormal(shape));

it('reports subgroups and shader-f16 as unavailable on the Node adapter', () => {
  expect(gpu.features.has('subgroups')).toBe(false);
  expect(gpu.features.has('shader-f16')).toBe(false);
  expect(gpu.kernelFeatures).toEqual({ subgroupsAvailable: false, shaderF16Available: false, reduceMode: 'tree' });
});

it('runs the tree variants of every reducing kernel (no subgroup pipeline, no subgroup dispatch)', async () => {
  const run = () =>
    tidy(() => {
      const x = rn([6, 300], 1);
      const g = rn([300], 2);
      const b = rn([300], 3);
      const ln = gradients(() => layerNorm(x, g, b, 1e-5), [x, g, b], rn([6, 300], 4));
      const z = rn([5, 40], 5);
      const y = cast(mul(seedScope(6, () => randomUniform([5])), scalar(40)), 'int32');
      const ce = gradients(() => crossEntropy(z, y), [z]);
      return [sum(x, 1), max(x, 1), softmax(z), logSumExp(x, -1), ln.value, ...ln.grads, ce.value, ...ce.grads];
    });
  const want = await onBackend(cpu, async () => host(run()));
  const got = await onBackend(gpu, async () => host(run()));
  expectClose(got, want, 1e-4, 'tree path against the CPU backend');
  expect(gpu.runtime.subgroupDispatches).toBe(0);
  const keys = gpu.runtime.pipelines.keys();
  for (const kernel of ['reduce:sum:f32', 'reduce:max:f32', 'softmax', 'logSumExp', 'layerNorm', 'layerNormDx', 'layerNormDGamma', 'crossEntropy']) {
    expect(keys.some((k) => k.startsWith(`${kernel}:`) && k.endsWith(':tree')), kernel).toBe(true);
  }
  expect(keys.filter((k) => k.includes(':subgroup'))).toEqual([]);
});
