/**
 * `--suite kernels`: the arithmetic rate of single kernels — GFLOP/s of matmul (square and
 * attention-shaped batched), GB/s of element-wise add, mul and exp, and the useful GFLOP/s of the fused
 * chunked attention forward and backward — on each of our backends (through the `Backend` kernel
 * contract, outside the tensor layer) next to peers doing the same op (plain tfjs, onnxruntime).
 *
 * @module
 */
import type { Backend, ChunkedAttentionParams, KernelTensor } from '@reformer/core';
import { COMMON_SUITE_FLAGS, parseFlags } from '../args.js';
import { reasonOf } from '../backends.js';
import { timeRuns } from '../measure.js';
import { BACKEND_NAMES, type BackendName } from '../types.js';
import type { SuiteContext, SuiteReport, SuiteRow, SuiteOutputOptions } from './suite.js';

/** One kernel measurement. `work`: floating-point operations (GFLOP/s) or bytes moved (GB/s). */
export type KernelCase =
  | { name: string; op: 'matmul'; a: number[]; b: number[]; unit: 'GFLOP/s'; work: number }
  | { name: string; op: 'add' | 'mul' | 'exp'; elements: number; unit: 'GB/s'; work: number }
  | {
      name: string;
      op: 'attention-forward' | 'attention-backward';
      slots: number;
      d: number;
      chunk: number;
      unit: 'GFLOP/s';
      work: number;
    };

/** A case ready to run: `run` ends when the result is readable on the host. */
export interface PreparedKernel {
  run(): Promise<void>;
  dispose(): void;
}

/** Something that runs kernel cases: one of our backends, or a peer library. */
export interface KernelImpl {
  name: string;
  /** Starts it; returns a line describing it. */
  start(): Promise<string>;
  /** Prepares a case, or returns why it cannot run it. */
  prepare(c: KernelCase): Promise<PreparedKernel | string>;
  stop?(): void;
}

/** Options of the kernels suite. */
export interface KernelsOptions extends SuiteOutputOptions {
  backends: BackendName[];
  /** Also run the peers (plain tfjs on wasm and cpu, onnxruntime). */
  peers: boolean;
  /** Square matmul sizes n (n×n · n×n). */
  sizes: number[];
  /** Batch of the attention-shaped product `[batch × (64×64 · 64×64)]`. */
  batched: number;
  /** Elements of the element-wise cases. */
  elements: number;
  /** Slots N of the fused attention `[1, 1, N, 64]`, chunk 64, one chunk before. */
  slots: number;
  repeats: number;
  warmup: number;
  budgetMs: number;
  /** The card's FP32 peak: GFLOP/s rows then also give the fraction of it. */
  peakGflops?: number | undefined;
  /** WebGPU only: Dawn's backend, and float16 matmul tiles. */
  adapter?: 'vulkan' | 'opengles' | undefined;
  f16: boolean;
  /** Threads of the wasm backend (`--wasm-threads`; default 1). */
  wasmThreads: number;
  /** Time runs by the process's CPU time instead of wall time (`--cpu-time`; needs `ctx.cpuClockMs`). */
  cpuTime: boolean;
}

const KERNEL_FLAGS = {
  ...COMMON_SUITE_FLAGS,
  backends: { listOf: BACKEND_NAMES },
  'no-peers': 'switch',
  sizes: 'ints',
  batched: 'count',
  elements: 'count',
  slots: 'count',
  'peak-gflops': 'number',
  adapter: { oneOf: ['vulkan', 'opengles'] },
  f16: 'switch',
  'wasm-threads': 'count',
  'cpu-time': 'switch',
} as const;

/** The flags of `--suite kernels`. */
export const KERNELS_USAGE = `--suite kernels: GFLOP/s and GB/s of single kernels on our backends next to plain tfjs and onnxruntime
  --backends LIST   ${BACKEND_NAMES.join(',')} (default cpu,wasm,tfjs-wasm)
  --no-peers        skip plain tfjs (wasm, cpu) and onnxruntime
  --sizes LIST      square matmul sizes (default 512,1024; --quick 256,512)
  --batched N       batch of the attention-shaped matmul [N × (64×64 · 64×64)] (default 1024; --quick 256)
  --elements N      elements of add, mul, exp (default 4m = 2^22; --quick 1m)
  --slots N         slots of the fused chunked attention [1, 1, N, 64] (default 16k; --quick 4k)
  --peak-gflops X   the device's FP32 peak: GFLOP/s rows also give the fraction of it
  --adapter A       webgpu: Dawn's backend, vulkan | opengles (default: Dawn's default adapter)
  --f16             webgpu: matmul with float16 workgroup tiles (needs shader-f16)
  --wasm-threads N  threads of the wasm backend (default 1)
  --cpu-time        time by the CPU time of the process (user + system, every thread) instead of wall
                    time: on a machine shared with other work it measures the kernel, not the queue for a
                    core (one-thread implementations only; GPU work is not counted)
  --repeats N       most timed runs per case (default 9; --quick 3)   --warmup N (default 2; --quick 1)
  --json FILE       write the report as JSON`;

/** Parses the flags of `--suite kernels`. */
export function parseKernelsArgs(argv: readonly string[]): KernelsOptions {
  const f = parseFlags('kernels', argv, KERNEL_FLAGS);
  const q = f.quick === true;
  return {
    backends: f.backends ?? ['cpu', 'wasm', 'tfjs-wasm'],
    peers: f['no-peers'] !== true,
    sizes: f.sizes ?? (q ? [256, 512] : [512, 1024]),
    batched: f.batched ?? (q ? 256 : 1024),
    elements: f.elements ?? (q ? 1 << 20 : 1 << 22),
    slots: f.slots ?? (q ? 4096 : 16384),
    repeats: f.repeats ?? (q ? 3 : 9),
    warmup: f.warmup ?? (q ? 1 : 2),
    budgetMs: q ? 2000 : 8000,
    peakGflops: f['peak-gflops'],
    adapter: f.adapter,
    f16: f.f16 === true,
    wasmThreads: f['wasm-threads'] ?? 1,
    cpuTime: f['cpu-time'] === true,
    json: f.json,
    help: f.help === true,
  };
}

/** The cases of a run. Bytes of element-wise ops: inputs read plus the output written (float32). */
export function kernelCases(o: Pick<KernelsOptions, 'sizes' | 'batched' | 'elements' | 'slots'>): KernelCase[] {
  const cases: KernelCase[] = o.sizes.map((n) => ({
    name: `matmul ${n}³`,
    op: 'matmul',
    a: [n, n],
    b: [n, n],
    unit: 'GFLOP/s',
    work: 2 * n ** 3,
  }));
  cases.push({
    name: `matmul ${o.batched}×(64×64·64×64)`,
    op: 'matmul',
    a: [o.batched, 64, 64],
    b: [o.batched, 64, 64],
    unit: 'GFLOP/s',
    work: o.batched * 2 * 64 ** 3,
  });
  for (const op of ['add', 'mul', 'exp'] as const) {
    cases.push({ name: `${op} ${o.elements}`, op, elements: o.elements, unit: 'GB/s', work: (op === 'exp' ? 2 : 3) * o.elements * 4 });
  }
  // Useful work of chunked attention: Q·Kᵀ and P·V over the W = 2·chunk window keys of every query
  // (2·W·(d + d) flops forward), twice that backward.
  const d = 64;
  const chunk = 64;
  const fwd = 2 * o.slots * 2 * chunk * (2 * d);
  cases.push({ name: `attention fwd N ${o.slots}`, op: 'attention-forward', slots: o.slots, d, chunk, unit: 'GFLOP/s', work: fwd });
  cases.push({ name: `attention bwd N ${o.slots}`, op: 'attention-backward', slots: o.slots, d, chunk, unit: 'GFLOP/s', work: 2 * fwd });
  return cases;
}

/** Deterministic uniform values in [−0.5, 0.5) (an LCG: the inputs do not matter to the timing). */
export function hostRandom(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

function size(shape: readonly number[]): number {
  return shape.reduce((p, x) => p * x, 1);
}

/** One of our backends, through the `Backend` kernel contract (no tensor layer, no autograd). */
export function backendKernels(name: BackendName, ctx: SuiteContext): KernelImpl {
  let be: Backend | undefined;
  return {
    name,
    async start() {
      const started = await ctx.startBackend(name);
      be = started.backend;
      return started.info;
    },
    async prepare(c) {
      const b = be;
      if (!b) throw new Error(`${name}: start() first`);
      let seed = 1;
      const put = (shape: number[]): KernelTensor => ({
        storage: b.write(hostRandom(size(shape), seed++), 'float32'),
        shape,
        dtype: 'float32',
      });
      const owned: KernelTensor[] = [];
      const input = (shape: number[]) => {
        const t = put(shape);
        owned.push(t);
        return t;
      };
      // A run ends when one value of each output has been read back (GPU backends: the queue is done).
      const finish = async (outs: KernelTensor[]) => {
        for (const o of outs) await b.read(o.storage, o.dtype, 1);
        for (const o of outs) b.free(o.storage);
      };
      const dispose = () => {
        for (const t of owned) b.free(t.storage);
      };
      switch (c.op) {
        case 'matmul': {
          const x = input(c.a);
          const y = input(c.b);
          const outShape = [...c.a.slice(0, -1), c.b[c.b.length - 1]!];
          return { run: () => finish([b.matmul(x, y, false, false, outShape)]), dispose };
        }
        case 'add':
        case 'mul': {
          const x = input([c.elements]);
          const y = input([c.elements]);
          const op = c.op;
          return { run: () => finish([b.binary(op, x, y, [c.elements])]), dispose };
        }
        case 'exp': {
          const x = input([c.elements]);
          return { run: () => finish([b.unary('exp', x)]), dispose };
        }
        case 'attention-forward':
        case 'attention-backward': {
          if (!b.chunkedAttention || !b.chunkedAttentionBackward) return 'no fused chunked attention (core composes it from primitives)';
          const shape = [1, 1, c.slots, c.d];
          const params: ChunkedAttentionParams = {
            chunkLength: c.chunk,
            chunksBefore: 1,
            chunksAfter: 0,
            causal: true,
            excludeSelf: true,
            scale: 1,
          };
          const [q, k, v] = [input(shape), input(shape), input(shape)];
          if (c.op === 'attention-forward') {
            return {
              run: () => {
                const r = b.chunkedAttention!(q, k, v, params);
                return finish([r.out, r.lse]);
              },
              dispose,
            };
          }
          const fwd = b.chunkedAttention(q, k, v, params);
          owned.push(fwd.out, fwd.lse);
          const dOut = input(shape);
          const dLse = input([1, 1, c.slots]);
          return {
            run: () => {
              const g = b.chunkedAttentionBackward!(q, k, v, fwd.out, fwd.lse, dOut, dLse, params);
              return finish([g.dq, g.dk, g.dv]);
            },
            dispose,
          };
        }
      }
    },
    stop() {
      be?.dispose?.();
    },
  };
}

/** The implementation whose figures the ratio column divides by. */
export const KERNEL_REFERENCE = 'tfjs-wasm (plain tfjs)';

/**
 * Runs every case on every implementation (one implementation at a time, its cases in order).
 * An implementation that cannot start, or a case it cannot run, is a row with the reason.
 */
export async function runKernelsSuite(o: KernelsOptions, ctx: SuiteContext, peers: readonly KernelImpl[] = []): Promise<KernelsReportData> {
  const cases = kernelCases(o);
  if (o.cpuTime && !ctx.cpuClockMs) throw new Error('--cpu-time: this runtime has no CPU clock (Node only).');
  const now = o.cpuTime ? ctx.cpuClockMs : undefined;
  const impls = [...o.backends.map((n) => backendKernels(n, ctx)), ...(o.peers ? peers : [])];
  const rows: SuiteRow[] = [];
  const info: string[] = [];
  const figures = new Map<string, number>();
  for (const impl of impls) {
    try {
      info.push(`${impl.name}: ${await impl.start()}`);
    } catch (err) {
      info.push(`${impl.name}: unavailable (${reasonOf(err)})`);
      continue;
    }
    for (const c of cases) {
      const row: SuiteRow = {
        case: c.name,
        unit: c.unit,
        implementation: impl.name,
        ms: null,
        figure: null,
        [`÷ ${KERNEL_REFERENCE}`]: null,
        '% of peak': null,
        note: '',
      };
      rows.push(row);
      let prepared: PreparedKernel | string;
      try {
        prepared = await impl.prepare(c);
      } catch (err) {
        row.note = `error: ${reasonOf(err)}`;
        continue;
      }
      if (typeof prepared === 'string') {
        row.note = prepared;
        continue;
      }
      try {
        const t = await timeRuns(prepared.run, { warmup: o.warmup, repeats: o.repeats, budgetMs: o.budgetMs, beforeRun: ctx.gc, now });
        row.ms = t.medianMs;
        row.figure = c.work / (t.medianMs * 1e6);
        if (o.peakGflops && c.unit === 'GFLOP/s') row['% of peak'] = (100 * row.figure) / o.peakGflops;
        figures.set(`${impl.name}\n${c.name}`, row.figure);
        ctx.log(`  ${impl.name.padEnd(24)} ${c.name.padEnd(28)} ${t.medianMs.toFixed(2).padStart(9)} ms`);
      } catch (err) {
        row.note = `error: ${reasonOf(err)}`;
      } finally {
        prepared.dispose();
      }
    }
    impl.stop?.();
  }
  for (const row of rows) {
    const ref = figures.get(`${KERNEL_REFERENCE}\n${String(row.case)}`);
    if (typeof row.figure === 'number' && ref) row[`÷ ${KERNEL_REFERENCE}`] = row.figure / ref;
  }
  return { rows, info };
}

/** The rows and the implementation lines of a kernels run. */
export interface KernelsReportData {
  rows: SuiteRow[];
  info: string[];
}

/** The kernels report. */
export function kernelsReport(o: KernelsOptions, data: KernelsReportData): SuiteReport {
  return {
    suite: 'kernels',
    title: `Kernel rates (median of ≤ ${o.repeats} timed runs after ${o.warmup} warm-up, ${o.cpuTime ? 'CPU time of the process' : 'wall time'}; a run ends when its output is readable on the host)\n${data.info.map((l) => `  ${l}`).join('\n')}`,
    tables: [
      {
        title: 'GFLOP/s (matmul, fused attention: useful work) and GB/s (element-wise: inputs read + output written)',
        columns: [
          'case',
          'unit',
          'implementation',
          'ms',
          'figure',
          `÷ ${KERNEL_REFERENCE}`,
          ...(o.peakGflops ? [`% of peak`] : []),
          'note',
        ],
        rows: data.rows,
      },
    ],
    notes: [
      'Our backends run through the Backend kernel contract (no tensor layer); tfjs-wasm and onnxruntime run one thread.',
      'Fused attention: [1, 1, N, 64], chunk 64, one chunk before, causal, self excluded; useful flops 4·W·d per query forward (W = 128 window keys), twice that backward.',
    ],
  };
}
