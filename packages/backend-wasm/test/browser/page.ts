/**
 * The browser page of `browser.test.ts`: on a cross-origin isolated page, creates the wasm backend
 * (the browser entry: kernels fetched next to the module, module Web Workers) on one and on two
 * threads, runs a small conformance subset on both and on the CPU backend, and publishes on
 * `window.__reformerResult` each case's largest error against the CPU backend and whether two threads
 * gave one thread's bits (or `{ error }`).
 */
import { type Backend, createCpuBackend, type KernelTensor } from '@reformer/core';
import { createWasmBackend, type WasmBackend } from '../../src/index.js';
import { type AttentionProblem, LSH_LIKE, matmulOf, random, readTensor, runAttention } from '../helpers.js';

/** One case: its outputs on a backend, and the largest error allowed against the CPU backend. */
interface Case {
  name: string;
  /** The largest |wasm − cpu| allowed: `tol`, times the largest |value| (at least 1) when `relative`. 0: the CPU backend's values. */
  tol: number;
  relative: boolean;
  run: <S>(be: Backend<S>) => Float32Array[];
}

/** What the page publishes per case. */
export interface CaseResult {
  name: string;
  maxError: number;
  tol: number;
  /** Whether two threads gave one thread's results bit for bit. */
  sameBits: boolean;
}

const odd: AttentionProblem = {
  ...{ B: 2, H: 3, N: 40, d: 9, dv: 13, chunkLength: 8, chunksBefore: 2, chunksAfter: 1 },
  ...{ causal: false, excludeSelf: false, permute: true, buckets: 0, mask: true },
};

/** `f(x)` for a float tensor of `shape` with seeded values, read back. */
function unaryCase<S>(be: Backend<S>, shape: number[], f: (x: KernelTensor<S>) => KernelTensor<S>[]): Float32Array[] {
  const n = shape.reduce((a, b) => a * b, 1);
  const x: KernelTensor<S> = { storage: be.write(random(n, 9), 'float32'), shape, dtype: 'float32' };
  const outs = f(x);
  const result = outs.map((t) => readTensor(be, t));
  for (const t of [x, ...outs]) be.free(t.storage);
  return result;
}

const cases: Case[] = [
  // float32 accumulation against the reference's doubles: the tolerances of attention.test.ts,
  // matmul.test.ts and rows.test.ts.
  {
    name: 'attention forward and backward, LSH-like (chunk 64, 2 heads)',
    tol: 1e-5,
    relative: true,
    run: (be) => runAttention(be, LSH_LIKE),
  },
  {
    name: 'attention forward and backward, odd sizes (d 9, dv 13, mask)',
    tol: 1e-5,
    relative: true,
    run: (be) => runAttention(be, odd),
  },
  {
    name: 'matmul 300×517 · 517×260 and Aᵀ·Bᵀ 203×301 · 301×97',
    tol: 2e-6 * Math.sqrt(517) + 1e-7,
    relative: false,
    run: (be) => [
      matmulOf(be, random(300 * 517, 1, 0.5), [300, 517], random(517 * 260, 2, 0.5), [517, 260], false, false, [300, 260]),
      matmulOf(be, random(301 * 203, 3, 0.5), [301, 203], random(97 * 301, 4, 0.5), [97, 301], true, true, [203, 97]),
    ],
  },
  {
    name: 'add with broadcast, sqrt, sum over an axis, transpose (257×513)',
    tol: 0,
    relative: false,
    run: (be) =>
      unaryCase(be, [257, 513], (x) => {
        const row: KernelTensor<typeof x.storage> = { storage: be.write(random(513, 5), 'float32'), shape: [513], dtype: 'float32' };
        const y = be.binary('add', x, row, [257, 513]);
        const a = be.unary('abs', y);
        const r = be.unary('sqrt', a);
        be.free(a.storage);
        const s = be.reduce('sum', y, [0]);
        const t = be.transpose(y, [1, 0]);
        be.free(row.storage);
        return [y, r, s, t];
      }),
  },
  {
    name: 'softmax and layer norm rows (300×130)',
    tol: 1e-5,
    relative: true,
    run: (be) =>
      unaryCase(be, [300, 130], (x) => {
        const gamma: KernelTensor<typeof x.storage> = {
          storage: be.write(random(130, 6, 1, 1), 'float32'),
          shape: [130],
          dtype: 'float32',
        };
        const beta: KernelTensor<typeof x.storage> = { storage: be.write(random(130, 7), 'float32'), shape: [130], dtype: 'float32' };
        const { y, mean, rstd } = be.layerNorm!(x, gamma, beta, 1e-5);
        const soft = be.softmax!(x);
        for (const t of [gamma, beta, mean, rstd]) be.free(t.storage);
        return [y, soft];
      }),
  },
];

/** The largest |a − b| (NaN where they differ in NaN-ness), divided by the largest |b| (at least 1) when `relative`. */
function maxError(a: Float32Array, b: Float32Array, relative: boolean): number {
  if (a.length !== b.length) return Infinity;
  let error = 0;
  let magnitude = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    error = d > error || (d !== d && a[i] === a[i]) || (d !== d && b[i] === b[i]) ? d : error;
    magnitude = Math.max(magnitude, Math.abs(b[i]!));
  }
  return relative ? error / Math.max(1, magnitude) : error;
}

/** Whether `a` and `b` hold the same bits. */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

async function main(): Promise<unknown> {
  const cpu = createCpuBackend();
  const one: WasmBackend = await createWasmBackend({ threads: 1 });
  const two: WasmBackend = await createWasmBackend({ threads: 2, maxMemoryBytes: 256 * 2 ** 20 });
  const results: CaseResult[] = cases.map((c) => {
    const want = c.run(cpu);
    const got1 = c.run(one);
    const got2 = c.run(two);
    return {
      name: c.name,
      tol: c.tol,
      maxError: Math.max(...got1.map((g, i) => maxError(g, want[i]!, c.relative))),
      sameBits: got1.length === got2.length && got1.every((g, i) => sameBits(g, got2[i]!)),
    };
  });
  const result = {
    crossOriginIsolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated,
    features: [one.kernelFeatures, two.kernelFeatures],
    liveBytes: [one.memory().liveBytes, two.memory().liveBytes],
    cases: results,
  };
  one.dispose();
  two.dispose();
  return result;
}

const w = window as unknown as { __reformerResult?: unknown };
main().then(
  (r) => {
    w.__reformerResult = r;
  },
  (e: unknown) => {
    w.__reformerResult = { error: e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e) };
  },
);
