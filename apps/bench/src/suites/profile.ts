/**
 * `--suite profile`: where the time of one LSH attention forward (+ backward) goes on a backend — the
 * wall time spent inside each `Backend` method (calls and milliseconds), and, where the runner supplies
 * one (tfjs backends in the CLI), the library's own per-kernel profile. A method's time is the time until
 * it returns: on a backend that queues work (WebGPU) that is the time to enqueue, not to compute.
 *
 * @module
 */
import { getBackend, gradients, randomNormal, seedScope, setBackend, tidy, type Backend, type Tensor } from '@reformer/core';
import { lshAttention } from '@reformer/lsh';
import { ONE_BACKEND_SUITE_FLAGS, parseFlags } from '../args.js';
import type { BackendName } from '../types.js';
import type { SuiteContext, SuiteReport, SuiteRow, SuiteTable, SuiteOutputOptions } from './suite.js';

/** Options of the profile suite. */
export interface ProfileOptions extends SuiteOutputOptions {
  backend: BackendName;
  length: number;
  hashes: number;
  /** Forward only (default: forward + backward). */
  forwardOnly: boolean;
  /** Rows of each table. */
  top: number;
}

const FLAGS = {
  ...ONE_BACKEND_SUITE_FLAGS,
  length: 'count',
  hashes: 'count',
  'forward-only': 'switch',
  top: 'count',
} as const;

/** The flags of `--suite profile`. */
export const PROFILE_USAGE = `--suite profile: time per Backend method (and per library kernel on tfjs) of one LSH attention step
  --backend B       backend (default wasm)
  --length L        sequence length, a multiple of 64 (default 4096; --quick 1024)
  --hashes N        hash rounds (default 2)
  --forward-only    the forward alone (default forward + backward)
  --top N           rows per table (default 25)
  --json FILE       write the report as JSON`;

/** Parses the flags of `--suite profile`. */
export function parseProfileArgs(argv: readonly string[]): ProfileOptions {
  const f = parseFlags('profile', argv, FLAGS);
  const length = f.length ?? (f.quick ? 1024 : 4096);
  if (length % 64 !== 0) throw new RangeError(`--length: ${length} is not a multiple of the chunk length 64.`);
  return {
    backend: f.backend ?? 'wasm',
    length,
    hashes: f.hashes ?? 2,
    forwardOnly: f['forward-only'] === true,
    top: f.top ?? 25,
    json: f.json,
    help: f.help === true,
  };
}

/** A library's own kernel profile of `step` (name, calls, milliseconds), e.g. `tf.profile` on tfjs backends. */
export type KernelProfiler = (step: () => Promise<void>) => Promise<{ name: string; calls: number; ms: number }[]>;

/** Method name → calls and milliseconds. */
type Tally = Map<string, { calls: number; ms: number }>;

/** Replaces every method of `backend` with a timed wrapper; returns the tally and a function that restores them. */
export function instrument(backend: Backend): { tally: Tally; restore(): void } {
  const tally: Tally = new Map();
  const target = backend as unknown as Record<string, unknown>;
  const names = new Set<string>();
  for (let o: object | null = backend; o && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const name of Object.getOwnPropertyNames(o)) if (name !== 'constructor' && typeof target[name] === 'function') names.add(name);
  }
  const own = new Map<string, PropertyDescriptor | undefined>();
  for (const name of names) {
    const f = target[name] as (...args: unknown[]) => unknown;
    own.set(name, Object.getOwnPropertyDescriptor(backend, name));
    target[name] = function (this: unknown, ...args: unknown[]) {
      const t0 = performance.now();
      try {
        return f.apply(this, args);
      } finally {
        const e = tally.get(name) ?? { calls: 0, ms: 0 };
        e.calls++;
        e.ms += performance.now() - t0;
        tally.set(name, e);
      }
    };
  }
  return {
    tally,
    restore() {
      for (const [name, d] of own) {
        if (d) Object.defineProperty(backend, name, d);
        else delete target[name];
      }
    },
  };
}

/** Profiles one warm step. */
export async function runProfileSuite(o: ProfileOptions, ctx: SuiteContext, profiler?: KernelProfiler): Promise<SuiteReport> {
  const started = await ctx.startBackend(o.backend);
  const be = started.backend;
  const previous = getBackend();
  await setBackend(be);
  const d = 64;
  const [qk, v, dy] = seedScope(1, () => [
    randomNormal([1, 1, o.length, d]),
    randomNormal([1, 1, o.length, d]),
    randomNormal([1, 1, o.length, d]),
  ]);
  const step = async () => {
    const attend = () => lshAttention(qk, v, { chunkLength: 64, nHashes: o.hashes, seed: 3 }).output;
    const outs: Tensor[] = tidy(() => (o.forwardOnly ? [attend()] : gradients(attend, [qk, v], dy).grads));
    for (const t of outs) await t.data();
    for (const t of outs) t.dispose();
  };
  try {
    await step(); // warm-up
    const { tally, restore } = instrument(be);
    const t0 = performance.now();
    try {
      await step();
    } finally {
      restore();
    }
    const total = performance.now() - t0;
    const byMethod: SuiteRow[] = [...tally]
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, o.top)
      .map(([method, e]) => ({ method, calls: e.calls, ms: e.ms, 'share of step': e.ms / total }));
    const tables: SuiteTable[] = [
      { title: `Backend methods (${tally.size} called), by time`, columns: ['method', 'calls', 'ms', 'share of step'], rows: byMethod },
    ];
    if (profiler) {
      const kernels = await profiler(step);
      tables.push({
        title: `Library kernels (${kernels.reduce((s, k) => s + k.calls, 0)} calls), by time`,
        columns: ['kernel', 'calls', 'ms'],
        rows: kernels
          .sort((a, b) => b.ms - a.ms)
          .slice(0, o.top)
          .map((k) => ({ kernel: k.name, calls: k.calls, ms: k.ms })),
      });
    }
    return {
      suite: 'profile',
      title: `LSH attention ${o.forwardOnly ? 'forward' : 'forward + backward'}, L ${o.length}, 1 head of ${d}, chunk 64, ${o.hashes} hashes — ${started.info}: ${total.toFixed(1)} ms (one warm step)`,
      tables,
      notes: [
        'A method is timed until it returns (on WebGPU: the time to enqueue its work); a method that calls others (e.g. a tidy helper) includes their time, so the shares can sum past 1.',
      ],
    };
  } finally {
    for (const t of [qk, v, dy]) t.dispose();
    await setBackend(previous);
  }
}
