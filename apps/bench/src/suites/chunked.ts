/**
 * `--suite chunked`: peak memory and time of `@reformer/chunked-ffn` — forward + backward (gradients of
 * the input and every parameter) of
 *   1. `ChunkedFeedForward` (gelu, F = 4·H) at chunkSize L/1 (unchunked), L/2, L/4, L/8, L/16;
 *   2. the LM-head loss: `chunkedCrossEntropy` (causal shift) at a few chunk sizes, against the
 *      materialised logits + core's `crossEntropy`.
 * Peak: core's exact peak bytes above the live bytes at the start of a run (inputs and parameters exist
 * before).
 *
 * @module
 */
import { ChunkedFeedForward, chunkedCrossEntropy } from '@reformer/chunked-ffn';
import {
  cast,
  crossEntropy,
  dispose,
  getBackend,
  gradients,
  matmul,
  randomNormal,
  randomUniform,
  setBackend,
  slice,
  tidy,
  type Tensor,
} from '@reformer/core';
import { ONE_BACKEND_SUITE_FLAGS, parseFlags } from '../args.js';
import { timeRuns } from '../measure.js';
import { type BackendName } from '../types.js';
import { coreMemoryProbe, mib, type SuiteContext, type SuiteReport, type SuiteRow, type SuiteOutputOptions } from './suite.js';

/** Options of the chunked suite. */
export interface ChunkedOptions extends SuiteOutputOptions {
  backend: BackendName;
  /** Feed-forward: length and hidden size (F = 4·H). */
  length: number;
  hidden: number;
  /** Divisors of L for the feed-forward chunk sizes (1 = unchunked). */
  divisors: number[];
  /** LM head: length, hidden size, vocabulary and chunk sizes. */
  headLength: number;
  headHidden: number;
  vocab: number;
  headChunks: number[];
  repeats: number;
  warmup: number;
}

const FLAGS = {
  ...ONE_BACKEND_SUITE_FLAGS,
  length: 'count',
  hidden: 'count',
  divisors: 'ints',
  'head-length': 'count',
  'head-hidden': 'count',
  vocab: 'count',
  'head-chunks': 'ints',
} as const;

/** The flags of `--suite chunked`. */
export const CHUNKED_USAGE = `--suite chunked: chunked feed-forward and chunked LM-head loss, peak memory and time
  --backend B        backend (default cpu)
  --length L         feed-forward length (default 2048; --quick 1024)
  --hidden H         feed-forward hidden size, F = 4·H (default 128; --quick 64)
  --divisors LIST    chunk sizes L/d (default 1,2,4,8,16; 1 = unchunked)
  --head-length L    LM-head length (default 1024; --quick 512)
  --head-hidden D    LM-head hidden size (default 128; --quick 64)
  --vocab V          vocabulary (default 2048; --quick 1024)
  --head-chunks LIST LM-head chunk sizes (default 256,64,16)
  --repeats N        timed runs per case (default 3; --quick 2)   --warmup N (default 1)
  --json FILE        write the report as JSON`;

/** Parses the flags of `--suite chunked`. */
export function parseChunkedArgs(argv: readonly string[]): ChunkedOptions {
  const f = parseFlags('chunked', argv, FLAGS);
  const q = f.quick === true;
  return {
    backend: f.backend ?? 'cpu',
    length: f.length ?? (q ? 1024 : 2048),
    hidden: f.hidden ?? (q ? 64 : 128),
    divisors: f.divisors ?? [1, 2, 4, 8, 16],
    headLength: f['head-length'] ?? (q ? 512 : 1024),
    headHidden: f['head-hidden'] ?? (q ? 64 : 128),
    vocab: f.vocab ?? (q ? 1024 : 2048),
    headChunks: f['head-chunks'] ?? [256, 64, 16],
    repeats: f.repeats ?? (q ? 2 : 3),
    warmup: f.warmup ?? 1,
    json: f.json,
    help: f.help === true,
  };
}

/** Median time and peak bytes (above the start) of `step`, whose returned tensors are read and freed. */
async function measureStep(o: ChunkedOptions, ctx: SuiteContext, step: () => Tensor[]): Promise<{ ms: number; peakBytes: number }> {
  const run = async () => {
    const outs = step();
    await outs[0]!.data();
    dispose(outs);
  };
  const t = await timeRuns(run, {
    warmup: o.warmup,
    repeats: o.repeats,
    budgetMs: Number.POSITIVE_INFINITY,
    memory: coreMemoryProbe,
    beforeRun: ctx.gc,
  });
  return { ms: t.medianMs, peakBytes: (t.peakBytes ?? 0) - (t.baseBytes ?? 0) };
}

/** Runs both parts. */
export async function runChunkedSuite(o: ChunkedOptions, ctx: SuiteContext): Promise<SuiteReport> {
  for (const d of o.divisors) {
    if (o.length % d !== 0) throw new RangeError(`--divisors: ${d} does not divide --length ${o.length}.`);
  }
  const started = await ctx.startBackend(o.backend);
  const previous = getBackend();
  await setBackend(started.backend);
  try {
    const B = 1;
    const { length: L, hidden: H } = o;
    const F = 4 * H;
    const ff = new ChunkedFeedForward({ hiddenSize: H, feedForwardSize: F, activation: 'gelu', seed: 1, initStd: 0.02 });
    const x = randomNormal([B, L, H], { seed: 2 });
    const dy = randomNormal([B, L, H], { seed: 3 });
    const params = ff.parameters();
    const ffRaw: { d: number; chunkSize: number; ms: number; peakBytes: number }[] = [];
    for (const d of o.divisors) {
      const chunkSize = d === 1 ? 0 : L / d;
      const r = await measureStep(o, ctx, () => {
        const { value, grads } = gradients(() => ff.forward(x, { chunkSize }), [x, ...params], dy);
        return [grads[0]!, value, ...grads.slice(1)];
      });
      ffRaw.push({ d, chunkSize, ...r });
      ctx.log(`  feed-forward chunkSize ${chunkSize} done`);
    }
    dispose([x, dy]);
    ff.dispose();
    const ref = ffRaw.find((r) => r.d === 1) ?? ffRaw[0]!;
    const ffRows: SuiteRow[] = ffRaw.map((r) => ({
      chunkSize: r.d === 1 ? 'L/1 (0)' : `L/${r.d} (${r.chunkSize})`,
      'peak MiB': mib(r.peakBytes),
      'peak vs L/1': r.peakBytes / ref.peakBytes,
      ms: r.ms,
      'time vs L/1': r.ms / ref.ms,
    }));

    const { headLength: LL, headHidden: D, vocab: V } = o;
    const hidden = randomNormal([B, LL, D], { seed: 4 });
    const weight = randomNormal([V, D], { seed: 5, std: 0.05 });
    const labels = tidy(() => cast(randomUniform([B, LL], { seed: 6, min: 0, max: V }), 'int32'));
    const materialised = await measureStep(o, ctx, () => {
      const { value, grads } = gradients(
        () =>
          tidy(() =>
            crossEntropy(matmul(slice(hidden, [0, 0, 0], [B, LL - 1, D]), weight, false, true), slice(labels, [0, 1], [B, LL - 1])),
          ),
        [hidden, weight],
      );
      return [value, ...grads];
    });
    const headRows: SuiteRow[] = [
      { variant: 'materialised logits', 'peak MiB': mib(materialised.peakBytes), 'peak vs materialised': 1, ms: materialised.ms },
    ];
    for (const chunkSize of o.headChunks) {
      const r = await measureStep(o, ctx, () => {
        const { value, grads } = gradients(() => chunkedCrossEntropy(hidden, weight, labels, { shift: true, chunkSize }), [hidden, weight]);
        return [value, ...grads];
      });
      headRows.push({
        variant: `chunked, chunkSize ${chunkSize}`,
        'peak MiB': mib(r.peakBytes),
        'peak vs materialised': r.peakBytes / materialised.peakBytes,
        ms: r.ms,
      });
    }
    dispose([hidden, weight, labels]);
    const l8 = ffRaw.find((r) => r.d === 8);
    return {
      suite: 'chunked',
      title: `Chunked feed-forward and LM head, forward + backward — ${started.info}; median of ${o.repeats} timed runs after ${o.warmup} warm-up; peak above the live bytes at the start`,
      tables: [
        {
          title: `ChunkedFeedForward, gelu, B ${B}, L ${L}, H ${H}, F ${F} ([B, L, F] float32 = ${mib(B * L * F * 4).toFixed(2)} MiB)`,
          columns: ['chunkSize', 'peak MiB', 'peak vs L/1', 'ms', 'time vs L/1'],
          rows: ffRows,
        },
        {
          title: `LM-head loss (causal shift), B ${B}, L ${LL}, hidden ${D}, V ${V} ([B, L, V] logits = ${mib(B * LL * V * 4).toFixed(2)} MiB)`,
          columns: ['variant', 'peak MiB', 'peak vs materialised', 'ms'],
          rows: headRows,
        },
      ],
      notes: l8
        ? [
            `target: peak(L/8) ≤ 1/4 peak(L/1): ${(l8.peakBytes / ref.peakBytes).toFixed(3)} → ${l8.peakBytes <= ref.peakBytes / 4 ? 'met' : 'NOT met'}`,
          ]
        : [],
    };
  } finally {
    await setBackend(previous);
  }
}
