#!/usr/bin/env node
// The @reformer/core benchmark (a program that prints figures, not a test).
//
//   pnpm bench                                    # at the repository root: builds, then runs this
//   pnpm --filter @reformer/core bench --quick    # after `pnpm build`; fewer repeats
//
// It measures the reference CPU backend of the BUILT package (../dist/index.js) next to the same shapes
// on TensorFlow.js's `wasm` backend (XNNPACK, pinned to one thread) and `cpu` backend, in this process:
//   - GFLOP/s of matmul 512³, 1024³ and a batched attention-shaped product [1024 × (64×64 · 64×64)];
//   - GB/s of element-wise add, mul and exp over 2^22 float32 values.
// Every figure is the median of several timed runs after warm-up; a run ends when `await out.data()`
// resolves (tfjs is lazy on some backends, so we read back on all three to be fair).
// The last line says whether the target of issue 2 is met: reference matmul ≥ 25% of tfjs-wasm on one core.
//
// Flags: --quick (1 warm-up, at most 3 timed runs), --repeats N (most timed runs per case).

import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';

const TARGET = 0.25;

// ---------------------------------------------------------------------------------------------------
// options

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const repeatsArg = argv.indexOf('--repeats');
const maxRepeats = repeatsArg >= 0 ? Math.max(1, Number(argv[repeatsArg + 1]) || 1) : quick ? 3 : 9;
const warmups = quick ? 1 : 2;
const minRepeats = Math.min(3, maxRepeats);
/** Stop repeating a case once this much time was spent on it (after `minRepeats` runs). */
const budgetMs = quick ? 2_000 : 8_000;
const gc = typeof globalThis.gc === 'function' ? globalThis.gc : () => {};

// ---------------------------------------------------------------------------------------------------
// the cases

const N_ELEM = 1 << 22;
const F32 = 4;

/**
 * @typedef {{ kind: 'matmul', name: string, a: number[], b: number[], flops: number }
 *         | { kind: 'add' | 'mul' | 'exp', name: string, shape: number[], bytes: number }} Case
 */
/** @type {Case[]} */
const CASES = [
  { kind: 'matmul', name: 'matmul 512³', a: [512, 512], b: [512, 512], flops: 2 * 512 ** 3 },
  { kind: 'matmul', name: 'matmul 1024³', a: [1024, 1024], b: [1024, 1024], flops: 2 * 1024 ** 3 },
  {
    kind: 'matmul',
    name: 'matmul 1024×(64×64·64×64)',
    a: [1024, 64, 64],
    b: [1024, 64, 64],
    flops: 1024 * 2 * 64 ** 3,
  },
  // Bytes moved: inputs read plus the output written.
  { kind: 'add', name: 'add 2^22', shape: [N_ELEM], bytes: 3 * N_ELEM * F32 },
  { kind: 'mul', name: 'mul 2^22', shape: [N_ELEM], bytes: 3 * N_ELEM * F32 },
  { kind: 'exp', name: 'exp 2^22', shape: [N_ELEM], bytes: 2 * N_ELEM * F32 },
];

// ---------------------------------------------------------------------------------------------------
// timing

/** Median of a non-empty list. */
function median(xs) {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Warm-up runs, then up to `maxRepeats` timed runs (at least `minRepeats`, fewer when the time budget
 * is spent). Returns the median milliseconds of one run.
 * @param {() => Promise<void>} run
 */
async function measure(run) {
  for (let i = 0; i < warmups; i++) await run();
  const times = [];
  const start = performance.now();
  while (times.length < maxRepeats) {
    gc();
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
    if (times.length >= minRepeats && performance.now() - start > budgetMs) break;
  }
  return median(times);
}

/**
 * Runs every case on one implementation. `impl.inputs(c)` creates the (untimed) inputs of a case,
 * `impl.op(c, inputs)` starts the op and returns the output, which is read back and disposed inside
 * the timed run. Returns a figure per case: GFLOP/s for matmul, GB/s for element-wise ops.
 */
async function runAll(label, impl) {
  /** @type {Map<string, number>} */
  const figures = new Map();
  for (const c of CASES) {
    const inputs = impl.inputs(c);
    const ms = await measure(async () => {
      const out = impl.op(c, inputs);
      await out.data();
      out.dispose();
    });
    for (const t of inputs) t.dispose();
    const figure = c.kind === 'matmul' ? c.flops / (ms * 1e6) : c.bytes / (ms * 1e6);
    figures.set(c.name, figure);
    console.log(`  ${label.padEnd(9)} ${c.name.padEnd(26)} ${ms.toFixed(2).padStart(9)} ms`);
  }
  return figures;
}

// ---------------------------------------------------------------------------------------------------
// ours: the reference CPU backend of the built package

async function benchOurs(core) {
  await core.setBackend(core.createCpuBackend());
  let seed = 1;
  const rand = (shape) => core.randomUniform(shape, { seed: seed++, min: -1, max: 1 });
  return runAll('ours', {
    inputs: (c) => (c.kind === 'matmul' ? [rand(c.a), rand(c.b)] : c.kind === 'exp' ? [rand(c.shape)] : [rand(c.shape), rand(c.shape)]),
    op: (c, [a, b]) => {
      switch (c.kind) {
        case 'matmul':
          return core.matmul(a, b);
        case 'add':
          return core.add(a, b);
        case 'mul':
          return core.mul(a, b);
        case 'exp':
          return core.exp(a);
      }
    },
  });
}

// ---------------------------------------------------------------------------------------------------
// TensorFlow.js: one tfjs-core instance (the CommonJS build Node resolves), the wasm and cpu backends

const require = createRequire(import.meta.url);
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const tfWasm = require('@tensorflow/tfjs-backend-wasm');

/** Sets up tfjs-wasm: binaries from the npm package (offline), XNNPACK on one thread. */
async function initTfjsWasm() {
  // `<package>/dist/` holds tfjs-backend-wasm{,-simd,-threaded-simd}.wasm next to the Node entry point.
  const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + '/';
  tfWasm.setWasmPaths(wasmDir);
  tfWasm.setThreadsCount(1); // before the backend initialises: "one core"
  const ok = await tf.setBackend('wasm');
  if (!ok) throw new Error(`tfjs: the wasm backend failed to initialise from ${wasmDir}`);
  await tf.ready();
  return {
    threads: tfWasm.getThreadsCount(),
    simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
  };
}

async function benchTfjs(backendName) {
  if (tf.getBackend() !== backendName) {
    const ok = await tf.setBackend(backendName);
    if (!ok) throw new Error(`tfjs: backend ${backendName} failed to initialise`);
    await tf.ready();
  }
  let seed = 1;
  const rand = (shape) => tf.randomUniform(shape, -1, 1, 'float32', seed++);
  return runAll(`tfjs-${backendName}`, {
    inputs: (c) => (c.kind === 'matmul' ? [rand(c.a), rand(c.b)] : c.kind === 'exp' ? [rand(c.shape)] : [rand(c.shape), rand(c.shape)]),
    op: (c, [a, b]) => {
      switch (c.kind) {
        case 'matmul':
          return tf.matMul(a, b);
        case 'add':
          return tf.add(a, b);
        case 'mul':
          return tf.mul(a, b);
        case 'exp':
          return tf.exp(a);
      }
    },
  });
}

// ---------------------------------------------------------------------------------------------------
// main

function fmt(x, digits = 2) {
  return Number.isFinite(x) ? x.toFixed(digits) : '—';
}

/** The built package; a clear message when it was not built. */
async function loadCore() {
  try {
    return await import('../dist/index.js');
  } catch (err) {
    if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/index.js')) {
      console.error(
        'Could not load the built package (packages/core/dist/index.js). Build it first (`pnpm build` at ' +
          'the repository root), or run the benchmark with `pnpm bench` at the root, which builds first.',
      );
    }
    throw err;
  }
}

async function main() {
  const core = await loadCore();
  // Production mode only silences tfjs's console hints (e.g. "install tfjs-node"); it changes no kernel.
  // (IS_TEST would silence them too, but it turns on a per-kernel leak check that costs time.)
  tf.enableProdMode();

  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log('@reformer/core benchmark: reference CPU backend vs TensorFlow.js (same process)');
  console.log(`node ${process.version} · ${cpu} · ${cpus().length} logical cores · tfjs ${tf.version_core}`);
  console.log(
    `median of ≤ ${maxRepeats} timed runs after ${warmups} warm-up${warmups > 1 ? 's' : ''}` +
      `${quick ? ' (--quick)' : ''}; every run awaits data() of its output` +
      `${typeof globalThis.gc === 'function' ? '; GC between runs' : ''}`,
  );

  const wasmInfo = await initTfjsWasm();
  console.log(`tfjs-wasm: ${wasmInfo.threads} thread(s), SIMD ${wasmInfo.simd ? 'on' : 'off'}`);
  console.log('');

  console.log('timing (median per run):');
  const ours = await benchOurs(core);
  const wasm = await benchTfjs('wasm');
  const cpuFigures = await benchTfjs('cpu');
  console.log('');

  const head = ['case', 'unit', 'ours', 'tfjs-wasm', 'tfjs-cpu', 'ours/wasm', 'ours/cpu'];
  const rows = CASES.map((c) => {
    const o = ours.get(c.name);
    const w = wasm.get(c.name);
    const k = cpuFigures.get(c.name);
    return [c.name, c.kind === 'matmul' ? 'GFLOP/s' : 'GB/s', fmt(o), fmt(w), fmt(k), fmt(o / w), fmt(o / k)];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  console.log('');

  const verdicts = CASES.filter((c) => c.kind === 'matmul').map((c) => {
    const ratio = ours.get(c.name) / wasm.get(c.name);
    return `${c.name.replace('matmul ', '')} ${ratio >= TARGET ? 'met' : 'NOT met'} (${fmt(100 * ratio, 0)}%)`;
  });
  console.log(`target (reference matmul ≥ ${TARGET * 100}% of tfjs-wasm on one core): ${verdicts.join('; ')}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
