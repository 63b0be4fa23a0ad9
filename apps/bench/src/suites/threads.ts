/**
 * `--suite threads`: thread scaling of `@reformer/backend-wasm` — the same work on a 1-thread and an
 * N-thread backend, interleaved round by round (1 then N, then N then 1, …) so both see the same machine
 * load: LSH-4 attention forward and forward + backward (batch 1, one head of 64, chunk 64,
 * `nBuckets: 'auto'`, as the attention run) and a square matmul. Per case: wall milliseconds (min and
 * median), the process CPU milliseconds (all threads summed: the work the threads add, not the speed-up)
 * and, where the runtime can read it, the CPU milliseconds of the calling thread alone. With dynamic task
 * claiming the calling thread runs the serial part plus its share of the split kernels, so
 * "1-thread process CPU ÷ calling-thread CPU with N threads" estimates the speed-up on an otherwise idle
 * machine. On a machine shared with other work wall time mostly measures the queue for a core.
 *
 * @module
 */
import { type Backend, dispose, matmul, randomNormal, setBackend, sum, type Tensor, tidy, valueAndGrad } from '@reformer/core';
import { lshAttention } from '@reformer/lsh';
import { COMMON_SUITE_FLAGS, parseFlags } from '../args.js';
import { median } from '../measure.js';
import type { SuiteContext, SuiteReport, SuiteRow, SuiteOutputOptions } from './suite.js';

/** Options of the threads suite. */
export interface ThreadsOptions extends SuiteOutputOptions {
  /** Threads of the many-thread backend (the other has one). */
  wasmThreads: number;
  /** Sequence lengths of the LSH-4 cases. */
  lengths: number[];
  /** Size n of the matmul case (n×n · n×n). */
  size: number;
  /** Timed rounds (each runs every case once on both backends). */
  rounds: number;
}

const FLAGS = {
  ...COMMON_SUITE_FLAGS,
  'wasm-threads': 'count',
  lengths: 'ints',
  size: 'count',
  rounds: 'count',
} as const;

/** The flags of `--suite threads`. */
export const THREADS_USAGE = `--suite threads: @reformer/backend-wasm on 1 thread vs N threads, interleaved (wall and CPU time)
  --wasm-threads N  threads of the second backend (default 2)
  --lengths LIST    sequence lengths of the LSH-4 cases (default 16k; --quick 4k)
  --size N          square matmul size (default 1024; --quick 512)
  --rounds N        timed rounds after one warm-up (default 5; --quick 3; --repeats is the same)
  --json FILE       write the report as JSON`;

/** Parses the flags of `--suite threads`. */
export function parseThreadsArgs(argv: readonly string[]): ThreadsOptions {
  const f = parseFlags('threads', argv, FLAGS);
  const q = f.quick === true;
  return {
    wasmThreads: f['wasm-threads'] ?? 2,
    lengths: f.lengths ?? (q ? [4096] : [16384]),
    size: f.size ?? (q ? 512 : 1024),
    rounds: f.rounds ?? f.repeats ?? (q ? 3 : 5),
    json: f.json,
    help: f.help === true,
  };
}

/** CPU clocks of the runtime (Node: `process.cpuUsage` and `/proc/self/task/<pid>/schedstat`). */
export interface CpuClocks {
  /** CPU milliseconds of the whole process so far (every thread). */
  processMs(): number;
  /** CPU milliseconds of the calling thread so far, or NaN where the runtime cannot tell. */
  threadMs(): number;
}

/** What the suite needs from where it runs, besides the {@link SuiteContext}. */
export interface ThreadsEnvironment {
  /** Starts `@reformer/backend-wasm` with `threads` threads; `threads` is how many it got. */
  startWasm(threads: number): Promise<{ backend: Backend; info: string; threads: number }>;
  clocks: CpuClocks;
}

/** One timed call: wall, process CPU and calling-thread CPU milliseconds. */
interface Sample {
  wall: number;
  cpu: number;
  main: number;
}

/** A case ready to run on the active backend: `run` ends when its outputs are read back. */
interface Work {
  run(): Promise<void>;
  dispose(): void;
}

/** A case: its name, and how to prepare it on the active backend. */
interface ThreadsCase {
  name: string;
  prepare(): Work;
}

const LSH = { chunkLength: 64, nHashes: 4, nBuckets: 'auto', seed: 1 } as const;

async function readAll(ts: readonly Tensor[]): Promise<void> {
  for (const t of ts) await t.data();
  dispose([...ts]);
}

/** The cases of a run: LSH-4 forward and forward + backward at each length, then the matmul. */
export function threadsCases(o: Pick<ThreadsOptions, 'lengths' | 'size'>): ThreadsCase[] {
  const cases: ThreadsCase[] = [];
  const pair = (L: number) => [randomNormal([1, 1, L, 64], { seed: 1 }), randomNormal([1, 1, L, 64], { seed: 2 })] as const;
  for (const L of o.lengths) {
    cases.push({
      name: `LSH-4 forward, L ${L}`,
      prepare() {
        const [qk, v] = pair(L);
        return { run: () => readAll([tidy(() => lshAttention(qk, v, LSH).output)]), dispose: () => dispose([qk, v]) };
      },
    });
    cases.push({
      name: `LSH-4 forward+backward, L ${L}`,
      prepare() {
        const [qk, v] = pair(L);
        return {
          run: () => {
            const r = tidy(() => valueAndGrad((a: Tensor, b: Tensor) => sum(lshAttention(a, b, LSH).output))(qk, v));
            return readAll([r.value, ...r.grads]);
          },
          dispose: () => dispose([qk, v]),
        };
      },
    });
  }
  const n = o.size;
  cases.push({
    name: `matmul ${n}³`,
    prepare() {
      const a = randomNormal([n, n], { seed: 1 });
      const b = randomNormal([n, n], { seed: 2 });
      return { run: () => readAll([matmul(a, b)]), dispose: () => dispose([a, b]) };
    },
  });
  return cases;
}

async function sample(run: () => Promise<void>, clocks: CpuClocks): Promise<Sample> {
  const c0 = clocks.processMs();
  const m0 = clocks.threadMs();
  const t0 = performance.now();
  await run();
  const wall = performance.now() - t0;
  return { wall, cpu: clocks.processMs() - c0, main: clocks.threadMs() - m0 };
}

/** The columns of the threads table, for `n` threads. */
export function threadsColumns(n: number): string[] {
  return [
    'case',
    '1 thread wall ms (min)',
    '1 thread wall ms (median)',
    `${n} threads wall ms (min)`,
    `${n} threads wall ms (median)`,
    'wall speed-up (median)',
    '1 thread process CPU ms',
    `${n} threads process CPU ms`,
    `${n} threads calling-thread CPU ms`,
    'CPU estimate of the speed-up',
  ];
}

/**
 * Runs every case on a 1-thread and an `o.wasmThreads`-thread wasm backend, one warm-up each, then
 * `o.rounds` interleaved rounds. Core's active backend is left on the last one used.
 *
 * @throws {Error} when the wasm backend does not start, or starts with another thread count than asked.
 */
export async function runThreadsSuite(o: ThreadsOptions, ctx: SuiteContext, env: ThreadsEnvironment): Promise<SuiteReport> {
  const one = await env.startWasm(1);
  const many = await env.startWasm(o.wasmThreads);
  if (many.threads !== o.wasmThreads) {
    throw new Error(`--wasm-threads ${o.wasmThreads}: the wasm backend started with ${many.threads} thread(s) (${many.info})`);
  }
  const sides = [
    { threads: 1, started: one },
    { threads: o.wasmThreads, started: many },
  ];
  const n = o.wasmThreads;
  const rows: SuiteRow[] = [];
  try {
    for (const c of threadsCases(o)) {
      const work: Work[] = [];
      for (const side of sides) {
        await setBackend(side.started.backend);
        const w = c.prepare();
        work.push(w);
        await w.run(); // warm-up
      }
      const samples: Sample[][] = [[], []];
      for (let r = 0; r < o.rounds; r++) {
        for (const i of r % 2 === 0 ? [0, 1] : [1, 0]) {
          await setBackend(sides[i]!.started.backend);
          ctx.gc?.();
          samples[i]!.push(await sample(work[i]!.run, env.clocks));
        }
      }
      for (const [i, side] of sides.entries()) {
        await setBackend(side.started.backend);
        work[i]!.dispose();
      }
      const [s1, sn] = samples as [Sample[], Sample[]];
      const med = (xs: Sample[], k: keyof Sample) => median(xs.map((x) => x[k]));
      const mainN = med(sn, 'main');
      const cols = threadsColumns(n);
      const values = [
        c.name,
        Math.min(...s1.map((x) => x.wall)),
        med(s1, 'wall'),
        Math.min(...sn.map((x) => x.wall)),
        med(sn, 'wall'),
        med(s1, 'wall') / med(sn, 'wall'),
        med(s1, 'cpu'),
        med(sn, 'cpu'),
        Number.isFinite(mainN) ? mainN : null,
        Number.isFinite(mainN) && mainN > 0 ? med(s1, 'cpu') / mainN : null,
      ];
      rows.push(Object.fromEntries(cols.map((col, k) => [col, values[k]!])));
      ctx.log(`  ${c.name.padEnd(32)} ${med(s1, 'wall').toFixed(1).padStart(9)} ms → ${med(sn, 'wall').toFixed(1).padStart(9)} ms`);
    }
  } finally {
    one.backend.dispose?.();
    many.backend.dispose?.();
  }
  return {
    suite: 'threads',
    title: `@reformer/backend-wasm, 1 thread vs ${n} threads, ${o.rounds} interleaved rounds after one warm-up\n  1: ${one.info}\n  ${n}: ${many.info}`,
    tables: [{ title: 'Wall and CPU milliseconds per call (medians unless marked min)', columns: threadsColumns(n), rows }],
    notes: [
      'Process CPU sums every thread (the work threads add, not the speed-up); the calling thread runs the serial part plus its share of the split kernels,',
      'so "1-thread process CPU ÷ calling-thread CPU" estimates the speed-up on an idle machine (— where the runtime cannot read the thread clock).',
      'On a machine shared with other work, wall time mostly measures the queue for a core: say so where the figures go.',
    ],
  };
}
