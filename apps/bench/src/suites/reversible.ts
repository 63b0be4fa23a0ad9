/**
 * `--suite reversible`: the depth sweep of `@reformer/reversible` — peak memory and time of one forward
 * + backward of a stack of Reformer-shaped blocks, reversible against plain residuals, at each depth;
 * then, at one depth, the reversible stack with the feed-forward unchunked against chunked.
 *
 * Each block is a pair: g = `ChunkedFeedForward` (pre-LayerNorm → Linear(dModel → dFF) → dropout → gelu →
 * Linear → dropout, rate 0.1); f = (`--f mlp`) LayerNorm → Linear(dModel → fHidden) → gelu → Dropout(0.1)
 * → Linear(fHidden → dModel), or (`--f local`) pre-LayerNorm → `LocalSelfAttention` (4 heads × dModel/4,
 * chunk 64, one chunk before, output dropout 0.1). Gradients are taken w.r.t. both input halves and every
 * parameter for a fixed cotangent of concat(y1, y2). Peak: core's exact peak bytes during a run, above
 * the live bytes at its start (parameters and inputs).
 *
 * @module
 */
import { ChunkedFeedForward } from '@reformer/chunked-ffn';
import {
  concat,
  dispose,
  Dropout,
  gelu,
  getBackend,
  gradients,
  LayerNorm,
  Linear,
  Module,
  randomNormal,
  seedScope,
  setBackend,
  tidy,
  type Tensor,
} from '@reformer/core';
import { LocalSelfAttention } from '@reformer/lsh';
import { ReversibleBlock, ReversibleSequence } from '@reformer/reversible';
import { ONE_BACKEND_SUITE_FLAGS, parseFlags } from '../args.js';
import { timeRuns } from '../measure.js';
import { type BackendName } from '../types.js';
import { coreMemoryProbe, mib, type SuiteContext, type SuiteReport, type SuiteRow, type SuiteOutputOptions } from './suite.js';

/** Options of the reversible suite. */
export interface ReversibleOptions extends SuiteOutputOptions {
  backend: BackendName;
  batch: number;
  length: number;
  dModel: number;
  dFF: number;
  f: 'mlp' | 'local';
  fHidden: number;
  depths: number[];
  /** Timed runs of a configuration whose depth is ≤ `repeatDepth` (deeper ones run once). */
  repeats: number;
  repeatDepth: number;
  /** Feed-forward chunk size of the chunked row. */
  chunk: number;
  chunkDepth: number;
}

const FLAGS = {
  ...ONE_BACKEND_SUITE_FLAGS,
  batch: 'count',
  length: 'count',
  dmodel: 'count',
  dff: 'count',
  f: { oneOf: ['mlp', 'local'] },
  'f-hidden': 'count',
  depths: 'ints',
  'repeat-depth': 'int',
  chunk: 'count',
  'chunk-depth': 'count',
} as const;

/** The flags of `--suite reversible`. */
export const REVERSIBLE_USAGE = `--suite reversible: reversible vs plain residuals over depth, then chunked vs unchunked feed-forward
  --backend B       backend (default cpu)
  --length L        sequence length (default 4096; --quick 2048)   --batch N (default 1)
  --dmodel D        model width (default 256; --quick 64)          --dff F (default 2·dmodel)
  --f mlp|local     the f sub-layer (default mlp; local = LocalSelfAttention, about 3× as costly)
  --f-hidden N      hidden width of the mlp f (default dmodel/2)
  --depths LIST     depths (default 1,2,4,8,12,24)
  --repeats N       timed runs at depth ≤ --repeat-depth (default 3), one run deeper
  --repeat-depth N  (default 1; --quick 24)
  --chunk N         feed-forward chunk size of the chunked row (default L/8)
  --chunk-depth N   depth of the chunked comparison (default 4 when among the depths, else the first)
  --json FILE       write the report as JSON`;

/** Parses the flags of `--suite reversible`. */
export function parseReversibleArgs(argv: readonly string[]): ReversibleOptions {
  const f = parseFlags('reversible', argv, FLAGS);
  const q = f.quick === true;
  const length = f.length ?? (q ? 2048 : 4096);
  const dModel = f.dmodel ?? (q ? 64 : 256);
  const depths = f.depths ?? [1, 2, 4, 8, 12, 24];
  return {
    backend: f.backend ?? 'cpu',
    batch: f.batch ?? 1,
    length,
    dModel,
    dFF: f.dff ?? 2 * dModel,
    f: f.f ?? 'mlp',
    fHidden: f['f-hidden'] ?? Math.max(1, Math.floor(dModel / 2)),
    depths,
    repeats: f.repeats ?? 3,
    repeatDepth: f['repeat-depth'] ?? (q ? 24 : 1),
    chunk: f.chunk ?? Math.max(1, Math.floor(length / 8)),
    chunkDepth: f['chunk-depth'] ?? (depths.includes(4) ? 4 : depths[0]!),
    json: f.json,
    help: f.help === true,
  };
}

/** f (`--f mlp`): LayerNorm → Linear → gelu → Dropout → Linear. */
class Mlp extends Module {
  private readonly norm: LayerNorm;
  private readonly dense: Linear;
  private readonly dropout: Dropout;
  private readonly output: Linear;
  constructor(o: ReversibleOptions, seed: number) {
    super();
    this.norm = this.addModule('layer_norm', new LayerNorm({ dim: o.dModel }));
    this.dense = this.addModule('dense', new Linear({ inFeatures: o.dModel, outFeatures: o.fHidden, seed }));
    this.dropout = this.addModule('dropout', new Dropout({ rate: 0.1 }));
    this.output = this.addModule('output', new Linear({ inFeatures: o.fHidden, outFeatures: o.dModel, seed: seed + 1 }));
  }
  forward(x: Tensor): Tensor {
    return tidy(() => this.output.forward(this.dropout.forward(gelu(this.dense.forward(this.norm.forward(x))))));
  }
}

/** f (`--f local`): pre-LayerNorm local self-attention, as the Reformer's attention sub-layer. */
class LocalAttention extends Module {
  private readonly norm: LayerNorm;
  private readonly attention: LocalSelfAttention;
  constructor(o: ReversibleOptions, seed: number) {
    super();
    const numHeads = 4;
    this.norm = this.addModule('layer_norm', new LayerNorm({ dim: o.dModel }));
    this.attention = this.addModule(
      'attention',
      new LocalSelfAttention({
        hiddenSize: o.dModel,
        numHeads,
        headSize: Math.max(1, Math.floor(o.dModel / numHeads)),
        chunkLength: 64,
        chunksBefore: 1,
        outputDropout: 0.1,
        seed,
      }),
    );
  }
  forward(x: Tensor): Tensor {
    return tidy(() => this.attention.forward(this.norm.forward(x)));
  }
}

function makeStack(o: ReversibleOptions, depth: number, reversible: boolean, chunkSize: number): ReversibleSequence {
  const blocks = Array.from(
    { length: depth },
    (_, i) =>
      new ReversibleBlock(
        o.f === 'local' ? new LocalAttention(o, 10 * i) : new Mlp(o, 10 * i),
        new ChunkedFeedForward({
          hiddenSize: o.dModel,
          feedForwardSize: o.dFF,
          activation: 'gelu',
          dropout: 0.1,
          chunkSize,
          seed: 10 * i + 5,
        }),
        { f: 'attention', g: 'feed_forward' },
      ),
  );
  return new ReversibleSequence(blocks, { reversible });
}

/** One configuration's figures. */
export interface StackFigures {
  peakBytes: number;
  ms: number;
  runs: number;
  paramBytes: number;
}

/** `runs` timed forward + backward runs of one stack (no warm-up: the suite warms every path up first). */
export async function measureStack(
  o: ReversibleOptions,
  ctx: SuiteContext,
  depth: number,
  reversible: boolean,
  chunkSize: number,
  runs: number,
  length = o.length,
): Promise<StackFigures> {
  const seq = makeStack(o, depth, reversible, chunkSize);
  const x1 = randomNormal([o.batch, length, o.dModel], { seed: 1 });
  const x2 = randomNormal([o.batch, length, o.dModel], { seed: 2 });
  const dy = randomNormal([o.batch, length, 2 * o.dModel], { seed: 3 });
  const params = seq.parameters();
  const once = async () => {
    const grad = tidy(() => {
      const { value, grads } = gradients(
        () =>
          seedScope(7, () => {
            const [y1, y2] = seq.forward(x1, x2);
            return concat([y1, y2], -1);
          }),
        [x1, x2, ...params],
        dy,
      );
      dispose([value, ...grads.slice(1)]);
      return grads[0]!;
    });
    await grad.data(); // the run ends when a result has been read back
    grad.dispose();
  };
  try {
    const t = await timeRuns(once, {
      warmup: 0,
      repeats: runs,
      budgetMs: Number.POSITIVE_INFINITY,
      memory: coreMemoryProbe,
      beforeRun: ctx.gc,
    });
    return {
      peakBytes: (t.peakBytes ?? 0) - (t.baseBytes ?? 0),
      ms: t.medianMs,
      runs: t.timesMs.length,
      paramBytes: params.reduce((s, p) => s + p.size * 4, 0),
    };
  } finally {
    dispose([x1, x2, dy]);
    seq.dispose();
    ctx.gc?.();
  }
}

/** Runs the sweep and the chunked comparison. */
export async function runReversibleSuite(o: ReversibleOptions, ctx: SuiteContext): Promise<SuiteReport> {
  const started = await ctx.startBackend(o.backend);
  const previous = getBackend();
  await setBackend(started.backend);
  try {
    // One warm-up (JIT) of every code path at a short length; its figures are not reported.
    const warmL = Math.min(o.length, 512);
    await measureStack(o, ctx, 1, true, 0, 1, warmL);
    await measureStack(o, ctx, 1, false, 0, 1, warmL);
    await measureStack(o, ctx, 1, true, Math.max(1, Math.floor(warmL / 8)), 1, warmL);
    const runsAt = (depth: number) => (depth <= o.repeatDepth ? o.repeats : 1);
    const sweep: { depth: number; rev: StackFigures; plain: StackFigures }[] = [];
    for (const depth of o.depths) {
      const rev = await measureStack(o, ctx, depth, true, 0, runsAt(depth));
      const plain = await measureStack(o, ctx, depth, false, 0, runsAt(depth));
      sweep.push({ depth, rev, plain });
      ctx.log(`  depth ${depth} done`);
    }
    const unchunked =
      sweep.find((r) => r.depth === o.chunkDepth)?.rev ?? (await measureStack(o, ctx, o.chunkDepth, true, 0, runsAt(o.chunkDepth)));
    const chunked = await measureStack(o, ctx, o.chunkDepth, true, o.chunk, runsAt(o.chunkDepth));

    const depthRows: SuiteRow[] = sweep.map(({ depth, rev, plain }) => ({
      depth,
      runs: rev.runs,
      'params MiB': mib(rev.paramBytes),
      'rev peak MiB': mib(rev.peakBytes),
      'rev peak − param grads MiB': mib(rev.peakBytes - rev.paramBytes),
      'plain peak MiB': mib(plain.peakBytes),
      'plain/rev peak': plain.peakBytes / rev.peakBytes,
      'rev ms': rev.ms,
      'plain ms': plain.ms,
      'time rev/plain': rev.ms / plain.ms,
    }));
    const chunkRow = (name: string, r: StackFigures): SuiteRow => ({
      'ff chunkSize': name,
      runs: r.runs,
      'peak MiB': mib(r.peakBytes),
      'peak − param grads MiB': mib(r.peakBytes - r.paramBytes),
      'peak vs unchunked': r.peakBytes / unchunked.peakBytes,
      ms: r.ms,
      'time vs unchunked': r.ms / unchunked.ms,
    });
    const first = sweep[0]!;
    const last = sweep[sweep.length - 1]!;
    const ratios = sweep.map((r) => r.rev.ms / r.plain.ms);
    const mean = ratios.reduce((s, r) => s + r, 0) / ratios.length;
    const activationGrowth = (last.rev.peakBytes - last.rev.paramBytes) / (first.rev.peakBytes - first.rev.paramBytes);
    const fDesc =
      o.f === 'local'
        ? `f = LayerNorm → LocalSelfAttention(4 heads, chunk 64)`
        : `f = LayerNorm → Linear(${o.dModel}→${o.fHidden}) → gelu → Dropout → Linear`;
    return {
      suite: 'reversible',
      title: `Reversible stack, forward + backward — ${started.info}; batch ${o.batch}, L ${o.length}, dModel ${o.dModel}; ${fDesc}; g = ChunkedFeedForward(${o.dModel}→${o.dFF}→${o.dModel}, gelu, dropout 0.1)`,
      tables: [
        {
          title: '1. reversible vs plain residuals (feed-forward unchunked); peak = bytes above the start of one forward + backward',
          columns: Object.keys(depthRows[0]!),
          rows: depthRows,
        },
        {
          title: `2. reversible stack, depth ${o.chunkDepth}: feed-forward unchunked vs chunked (chunkSize ${o.chunk})`,
          columns: ['ff chunkSize', 'runs', 'peak MiB', 'peak − param grads MiB', 'peak vs unchunked', 'ms', 'time vs unchunked'],
          rows: [chunkRow('0 (unchunked)', unchunked), chunkRow(String(o.chunk), chunked)],
        },
      ],
      notes: [
        `reversible peak less the parameter gradients, depth ${last.depth} / depth ${first.depth}: ${activationGrowth.toFixed(2)}× (plain: ${(last.plain.peakBytes / first.plain.peakBytes).toFixed(2)}×) — activation memory independent of depth: ${activationGrowth <= 1.25 ? 'yes' : 'NO'}`,
        `time reversible / plain: mean ${mean.toFixed(2)}× over depths ${o.depths.join(', ')} (min ${Math.min(...ratios).toFixed(2)}×, max ${Math.max(...ratios).toFixed(2)}×); the paper: about 1.3–1.5×`,
      ],
    };
  } finally {
    await setBackend(previous);
  }
}
