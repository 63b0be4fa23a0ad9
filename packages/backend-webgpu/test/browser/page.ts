/**
 * The browser page of `browser.test.ts`: creates the WebGPU backend on the browser's adapter and runs
 * kernel checks and an LSH attention forward/backward, each against the CPU backend computed in the
 * same page. Publishes `{ adapter, checks: [{ name, maxError, tol }] }` (or `{ error }`) on
 * `window.__reformerResult`.
 */
import {
  argSort,
  cast,
  concat,
  createCpuBackend,
  crossEntropy,
  erf,
  gather,
  gelu,
  gradients,
  layerNorm,
  logSumExp,
  matmul,
  mul,
  randomNormal,
  randomUniform,
  scalar,
  scatterAdd,
  seedScope,
  setBackend,
  softmax,
  sum,
  tidy,
  transpose,
  add,
  max,
  type Backend,
  type Tensor,
} from '@reformer/core';
import { lshAttention } from '@reformer/lsh';
import { createWebGPUBackend } from '../../src/index.js';

interface Check {
  name: string;
  maxError: number;
  tol: number;
}

type Case = { name: string; tol: number; run: () => Tensor[] };

const rn = (shape: number[], seed: number) => seedScope(seed, () => randomNormal(shape));
const ints = (shape: number[], n: number, seed: number) => tidy(() => cast(mul(seedScope(seed, () => randomUniform(shape)), scalar(n)), 'int32'));

const cases: Case[] = [
  { name: 'matmul [2,33,17]·[17,65] and transposed', tol: 1e-5, run: () => [matmul(rn([2, 33, 17], 1), rn([17, 65], 2)), matmul(rn([17, 33], 3), rn([65, 17], 4), true, true)] },
  { name: 'broadcast add / max reduce / transpose', tol: 1e-6, run: () => [add(rn([3, 1, 5], 5), rn([4, 1], 6)), max(rn([4, 5, 6], 7), [0, 2]), transpose(rn([2, 3, 4], 8), [2, 0, 1])] },
  { name: 'softmax / logSumExp', tol: 1e-5, run: () => [softmax(rn([5, 33], 9)), logSumExp(rn([5, 33], 10), -1)] },
  { name: 'erf / gelu', tol: 1e-5, run: () => [erf(mul(rn([200], 11), scalar(2))), gelu(mul(rn([200], 12), scalar(3)))] },
  {
    name: 'layerNorm forward and backward',
    tol: 1e-4,
    run: () => {
      const x = rn([6, 24], 13);
      const g = rn([24], 14);
      const b = rn([24], 15);
      const { value, grads } = gradients(() => layerNorm(x, g, b, 1e-5), [x, g, b], rn([6, 24], 16));
      return [value, ...grads];
    },
  },
  {
    name: 'gather / scatterAdd / argSort (stable)',
    tol: 1e-5,
    run: () => {
      const x = rn([5, 7], 17);
      const idx = ints([9], 5, 18);
      return [gather(x, idx, 0), scatterAdd(rn([9, 7], 19), idx, 0, 5), argSort(ints([3, 300], 4, 20))];
    },
  },
  {
    name: 'crossEntropy forward and backward',
    tol: 1e-5,
    run: () => {
      const z = rn([8, 11], 21);
      const y = ints([8], 11, 22);
      const { value, grads } = gradients(() => crossEntropy(z, y), [z]);
      return [value, ...grads];
    },
  },
  ...[false, true].map(
    (causal): Case => ({
      name: `lshAttention forward and backward (causal ${causal})`,
      tol: 1e-4,
      run: () => {
        const qk = rn([1, 2, 64, 8], 31);
        const v = rn([1, 2, 64, 8], 32);
        const { value, grads } = gradients(() => sum(mul(lshAttention(qk, v, { chunkLength: 8, nHashes: 2, nBuckets: 8, causal, seed: 5 }).output, rn([1, 2, 64, 8], 33))), [qk, v]);
        return [value, ...grads];
      },
    }),
  ),
  { name: 'concat', tol: 0, run: () => [concat([rn([2, 3], 40), rn([2, 5], 41)], 1)] },
];

async function values(backend: Backend, c: Case): Promise<Float32Array[]> {
  await setBackend(backend);
  const ts = tidy(() => c.run());
  const out: Float32Array[] = [];
  for (const t of ts) out.push(Float32Array.from(await t.data()));
  for (const t of ts) t.dispose();
  return out;
}

async function main(): Promise<unknown> {
  const gpu = await createWebGPUBackend({ backendLabel: 'navigator.gpu' });
  const cpu = createCpuBackend();
  const checks: Check[] = [];
  for (const c of cases) {
    const want = await values(cpu, c);
    const got = await values(gpu, c);
    let maxError = got.length === want.length ? 0 : Infinity;
    want.forEach((w, i) => {
      const g = got[i]!;
      if (g.length !== w.length) maxError = Infinity;
      for (let j = 0; j < w.length; j++) {
        const e = Math.abs(g[j]! - w[j]!) / (1 + Math.abs(w[j]!));
        if (!(e <= maxError)) maxError = Number.isNaN(e) ? Infinity : Math.max(maxError, e);
      }
    });
    checks.push({ name: c.name, maxError, tol: c.tol });
  }
  // GPU timestamp queries (the benchmark's timing path) when the adapter has them.
  let timestampMs: number | undefined;
  if (gpu.hasTimestamps) {
    await setBackend(gpu);
    const [a, b] = [rn([128, 128], 50), rn([128, 128], 51)];
    let c: Tensor | undefined;
    timestampMs = await gpu.runtime.gpuTime(() => {
      c = matmul(a, b);
    });
    for (const t of [a, b, c!]) t.dispose();
  }
  const live = gpu.memory().liveBytes;
  gpu.dispose();
  return { adapter: gpu.adapterInfo, checks, liveBytesAfter: live, hasTimestamps: gpu.hasTimestamps, timestampMs };
}

const w = window as unknown as { __reformerResult?: unknown };
main().then(
  (r) => (w.__reformerResult = r),
  (err: unknown) => (w.__reformerResult = { error: err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err) }),
);
