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
  min,
  argMax,
  maximum,
  minimum,
  tensor,
  type Backend,
  type Tensor,
} from '@reformer/core';
import { lshAttention } from '@reformer/lsh';
import { createWebGPUBackend, type WebGPUBackend } from '../../src/index.js';

interface Check {
  name: string;
  maxError: number;
  tol: number;
}

type Case = { name: string; tol: number; run: () => Tensor[] };

const rn = (shape: number[], seed: number) => seedScope(seed, () => randomNormal(shape));
const ints = (shape: number[], n: number, seed: number) =>
  tidy(() =>
    cast(
      mul(
        seedScope(seed, () => randomUniform(shape)),
        scalar(n),
      ),
      'int32',
    ),
  );

const cases: Case[] = [
  {
    name: 'matmul [2,33,17]·[17,65] and transposed',
    tol: 1e-5,
    run: () => [matmul(rn([2, 33, 17], 1), rn([17, 65], 2)), matmul(rn([17, 33], 3), rn([65, 17], 4), true, true)],
  },
  {
    name: 'broadcast add / max reduce / transpose',
    tol: 1e-6,
    run: () => [add(rn([3, 1, 5], 5), rn([4, 1], 6)), max(rn([4, 5, 6], 7), [0, 2]), transpose(rn([2, 3, 4], 8), [2, 0, 1])],
  },
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
        const { value, grads } = gradients(
          () => sum(mul(lshAttention(qk, v, { chunkLength: 8, nHashes: 2, nBuckets: 8, causal, seed: 5 }).output, rn([1, 2, 64, 8], 33))),
          [qk, v],
        );
        return [value, ...grads];
      },
    }),
  ),
  { name: 'concat', tol: 0, run: () => [concat([rn([2, 3], 40), rn([2, 5], 41)], 1)] },
];

/**
 * Kernels whose reductions have subgroup variants, run on three backends on the same adapter
 * (subgroups off, subgroup slots by `subgroup_id`, atomically claimed slots) and on the CPU. Shapes
 * include rows shorter and longer than a workgroup, lengths that are not multiples of the subgroup
 * size, and reductions split into parts. `exact`: max/min/argMax outputs, equal on every path.
 */
const subgroupCases: (Case & { exact: boolean[] })[] = [
  {
    name: 'reduce sum/max/min (f32, int32, split into parts)',
    tol: 1e-5,
    exact: [false, true, true, false, true, true, true, true],
    run: () => {
      const x = rn([7, 1001], 60);
      const big = rn([3, 40000], 61);
      const xi = ints([5, 301], 1000, 62);
      return [sum(x, 1), max(x, 1), min(x, 1), sum(big, 1), max(big, 1), min(big), sum(xi, 1), max(xi, 1)];
    },
  },
  {
    // WGSL leaves NaN in max/min unspecified (SwiftShader's drop it): the kernels test NaN by its bits.
    name: 'rows with NaN: max/min propagate it, argMax skips it, argSort puts it last',
    tol: 0,
    exact: [true, true, true, true, true, true],
    run: () => {
      const row = [3, NaN, 1, NaN, 1, -2, 0, NaN, NaN, 5, 5, -1, NaN, 2, 5, 0];
      const x = tensor(
        Float32Array.from({ length: 4 * 300 }, (_, i) => (i < 300 ? row[i % 16]! : i % 7 === 0 ? NaN : (i * 37) % 101)),
        [4, 300],
      );
      const y = tensor(
        Float32Array.from({ length: 4 * 300 }, (_, i) => (i % 5 === 0 ? NaN : (i * 13) % 17)),
        [4, 300],
      );
      return [max(x, 1), min(x, 1), argMax(x, 1), maximum(x, y), minimum(x, y), argSort(x)];
    },
  },
  {
    name: 'argMax (tree on every path)',
    tol: 0,
    exact: [true],
    run: () => [argMax(rn([9, 700], 65), 1)],
  },
  {
    name: 'softmax / logSumExp (rows 5, 33, 300, 3000)',
    tol: 1e-5,
    exact: [false, false, false, false],
    run: () => [
      softmax(rn([4, 5], 66)),
      softmax(rn([5, 33], 67)),
      logSumExp(rn([6, 300], 68), -1),
      logSumExp(mul(rn([2, 3000], 69), scalar(100)), -1),
    ],
  },
  {
    name: 'layerNorm forward and backward (D 24, 300; 17 rows)',
    tol: 1e-4,
    exact: [false, false, false, false, false, false, false, false],
    run: () =>
      [24, 300].flatMap((d) => {
        const x = rn([17, d], 70 + d);
        const g = rn([d], 71 + d);
        const b = rn([d], 72 + d);
        const { value, grads } = gradients(() => layerNorm(x, g, b, 1e-5), [x, g, b], rn([17, d], 73 + d));
        return [value, ...grads];
      }),
  },
  {
    name: 'crossEntropy forward and backward (V 11, 500)',
    tol: 1e-5,
    exact: [false, false, false, false],
    run: () =>
      [11, 500].flatMap((v) => {
        const z = rn([8, v], 80 + v);
        const y = ints([8], v, 81 + v);
        const { value, grads } = gradients(() => crossEntropy(z, y), [z]);
        return [value, ...grads];
      }),
  },
];

/** What the page reports of the reducing kernels on the three reduce paths of one adapter. */
export interface SubgroupReport {
  checks: { name: string; path: string; maxError: number; tol: number }[];
  /** Outputs of `exact` kinds that differ between paths (must be 0). */
  exactMismatches: string[];
  /** Outputs of a subgroup path that differ bitwise between two runs (must be empty). */
  nondeterministic: string[];
  /** Largest relative difference of a subgroup path from the tree path, per case. */
  subgroupVsTree: { name: string; path: string; maxDiff: number }[];
  paths: {
    path: string;
    reduceMode: string;
    subgroupsAvailable: boolean;
    shaderF16Available: boolean;
    subgroupDispatches: number;
    pipelineKeys: string[];
  }[];
}

function maxRelError(got: Float32Array[], want: Float32Array[]): number {
  let maxError = got.length === want.length ? 0 : Infinity;
  want.forEach((w, i) => {
    const g = got[i]!;
    if (g.length !== w.length) maxError = Infinity;
    for (let j = 0; j < w.length; j++) {
      if (Number.isNaN(w[j]!) && Number.isNaN(g[j]!)) continue;
      const e = Math.abs(g[j]! - w[j]!) / (1 + Math.abs(w[j]!));
      if (!(e <= maxError)) maxError = Number.isNaN(e) ? Infinity : Math.max(maxError, e);
    }
  });
  return maxError;
}

const sameBits = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && a.every((v, j) => Object.is(v, b[j]) || (Number.isNaN(v) && Number.isNaN(b[j]!)));

async function subgroupPaths(cpu: Backend): Promise<SubgroupReport> {
  const paths: [string, WebGPUBackend][] = [
    ['tree', await createWebGPUBackend({ backendLabel: 'navigator.gpu', useSubgroups: false })],
    ['subgroup', await createWebGPUBackend({ backendLabel: 'navigator.gpu' })],
    ['subgroupSlots', await createWebGPUBackend({ backendLabel: 'navigator.gpu', useSubgroupId: false })],
  ];
  const report: SubgroupReport = { checks: [], exactMismatches: [], nondeterministic: [], subgroupVsTree: [], paths: [] };
  for (const c of subgroupCases) {
    const want = await values(cpu, c);
    const byPath = new Map<string, Float32Array[]>();
    for (const [path, gpu] of paths) {
      const got = await values(gpu, c);
      byPath.set(path, got);
      report.checks.push({ name: c.name, path, maxError: maxRelError(got, want), tol: c.tol });
      const again = await values(gpu, c);
      got.forEach((g, i) => {
        if (!sameBits(g, again[i]!)) report.nondeterministic.push(`${c.name} #${i} on ${path}`);
      });
    }
    const tree = byPath.get('tree')!;
    for (const [path] of paths.slice(1)) {
      const got = byPath.get(path)!;
      report.subgroupVsTree.push({ name: c.name, path, maxDiff: maxRelError(got, tree) });
      c.exact.forEach((ex, i) => {
        if (ex && !sameBits(got[i]!, tree[i]!)) report.exactMismatches.push(`${c.name} #${i} on ${path}`);
      });
    }
  }
  for (const [path, gpu] of paths) {
    report.paths.push({
      path,
      ...gpu.kernelFeatures,
      subgroupDispatches: gpu.runtime.subgroupDispatches,
      pipelineKeys: gpu.runtime.pipelines.keys(),
    });
    gpu.dispose();
  }
  return report;
}

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
  const subgroups = await subgroupPaths(cpu);
  return {
    adapter: gpu.adapterInfo,
    kernelFeatures: gpu.kernelFeatures,
    subgroups,
    checks,
    liveBytesAfter: live,
    hasTimestamps: gpu.hasTimestamps,
    timestampMs,
  };
}

const w = window as unknown as { __reformerResult?: unknown };
main().then(
  (r) => (w.__reformerResult = r),
  (err: unknown) =>
    (w.__reformerResult = { error: err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err) }),
);
