#!/usr/bin/env node
// The @reformer/reversible benchmark (a program that prints figures, not a test).
//
//   pnpm --filter @reformer/reversible build && pnpm --filter @reformer/reversible bench
//   pnpm --filter @reformer/reversible bench --quick     # small sizes, about 30 s
//   node --expose-gc bench/run.mjs --length 4096 --dmodel 256 --dff 1024 --f local --depths 1,2,4,8,12,24
//
// It runs the BUILT package (../dist/index.js) on @reformer/core's reference CPU backend (one thread).
// Every block of the stack is a Reformer-shaped pair
//   g = ChunkedFeedForward from @reformer/chunked-ffn (pre-LayerNorm → Linear(dModel → dFF) → dropout →
//       gelu → Linear(dFF → dModel) → dropout, rate 0.1),
//   f = (default, --f mlp) LayerNorm → Linear(dModel → fHidden) → gelu → Dropout(0.1) → Linear(fHidden → dModel),
//       or (--f local) pre-LayerNorm → LocalSelfAttention from @reformer/lsh (4 heads × dModel/4,
//       chunk 64, one chunk before, output dropout 0.1).
// It measures one forward + backward (gradients w.r.t. both input halves and every parameter, for a
// fixed cotangent of concat(y1, y2)):
//   1. for each depth: reversible vs plain residuals (feed-forward unchunked);
//   2. at one depth (--chunk-depth, default 4): the reversible stack with the feed-forward unchunked
//      (chunkSize 0; table 1's run) vs chunked (chunkSize L/8, or --chunk).
//   - peak: core's exact memory().peakBytes during the run, after gc() and resetPeak(), minus the live
//     bytes at its start (parameters and inputs): activations, tape, recompute and the gradients
//     themselves (the parameter gradients grow with depth, so the table also gives the peak less them);
//   - time: the median wall time of the timed runs, after one warm-up of every code path at a short
//     length. A configuration is timed --repeats times when its depth is ≤ --repeat-depth, and once
//     when deeper (those runs take 4–60 s each, so one run is already a long average).
//
// Defaults: the issue's configuration — batch 1, L 4096, dModel 256, depths 1,2,4,8,12,24 — with the
// costs cut so the whole run takes about 3.5 minutes on a 2-core machine: dFF 512 (= 2·dModel; the
// paper's 4·dModel, --dff 1024, doubles the feed-forward cost), f = mlp with fHidden = dModel/2, and
// 3 timed runs at depth 1 only. The full configuration (--dff 1024 --f local, where each sub-layer is
// about 3× as costly) takes about 10 minutes here. --quick: L 2048, dModel 64, 3 runs at every depth.
//
// Flags: --length, --dmodel (alias --d), --dff, --f mlp|local, --f-hidden, --batch, --depths,
// --repeats (default 3), --repeat-depth (default 1; --quick 24), --chunk, --chunk-depth, --quick.

import { performance } from 'node:perf_hooks';
import {
  Dropout,
  LayerNorm,
  Linear,
  Module,
  concat,
  dispose,
  gelu,
  getBackend,
  gradients,
  memory,
  randomNormal,
  resetPeak,
  seedScope,
  tidy,
} from '@reformer/core';
import { ChunkedFeedForward } from '@reformer/chunked-ffn';
import { LocalSelfAttention } from '@reformer/lsh';
import { ReversibleBlock, ReversibleSequence } from '../dist/index.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const flag = (names, fallback) => {
  for (const name of [names].flat()) {
    const i = args.indexOf(`--${name}`);
    if (i >= 0 && args[i + 1] !== undefined) return args[i + 1];
  }
  return fallback;
};
const int = (names, fallback) => {
  const v = Number(flag(names, fallback));
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${[names].flat()[0]} must be a non-negative integer, got ${flag(names, fallback)}`);
  return v;
};
const batch = int('batch', 1);
const length = int('length', quick ? 2048 : 4096);
const dModel = int(['dmodel', 'd'], quick ? 64 : 256);
const dFF = int('dff', 2 * dModel);
const fKind = String(flag('f', 'mlp'));
if (fKind !== 'mlp' && fKind !== 'local') throw new Error(`--f must be mlp or local, got ${fKind}`);
const fHidden = int('f-hidden', Math.max(1, Math.floor(dModel / 2)));
const repeats = Math.max(1, int('repeats', 3));
const repeatDepth = int('repeat-depth', quick ? 24 : 1);
const depths = String(flag('depths', '1,2,4,8,12,24')).split(',').map(Number);
const chunk = int('chunk', Math.max(1, Math.floor(length / 8)));
const chunkDepth = int('chunk-depth', depths.includes(4) ? 4 : depths[0]);
const numHeads = 4;
const headSize = Math.max(1, Math.floor(dModel / numHeads));
const gc = typeof globalThis.gc === 'function' ? globalThis.gc : () => {};

/** f (--f mlp): LayerNorm → Linear → gelu → Dropout → Linear. */
class Mlp extends Module {
  constructor(seed) {
    super();
    this.layer_norm = this.addModule('layer_norm', new LayerNorm({ dim: dModel }));
    this.dense = this.addModule('dense', new Linear({ inFeatures: dModel, outFeatures: fHidden, seed }));
    this.dropout = this.addModule('dropout', new Dropout({ rate: 0.1 }));
    this.output = this.addModule('output', new Linear({ inFeatures: fHidden, outFeatures: dModel, seed: seed + 1 }));
  }
  forward(x) {
    return tidy(() => this.output.forward(this.dropout.forward(gelu(this.dense.forward(this.layer_norm.forward(x))))));
  }
}

/** f (--f local): pre-LayerNorm local self-attention, as the Reformer's attention sub-layer. */
class LocalAttention extends Module {
  constructor(seed) {
    super();
    this.layer_norm = this.addModule('layer_norm', new LayerNorm({ dim: dModel }));
    this.attention = this.addModule(
      'attention',
      new LocalSelfAttention({ hiddenSize: dModel, numHeads, headSize, chunkLength: 64, chunksBefore: 1, outputDropout: 0.1, seed }),
    );
  }
  forward(x) {
    return tidy(() => this.attention.forward(this.layer_norm.forward(x)));
  }
}

function makeStack(depth, reversible, chunkSize) {
  const blocks = Array.from(
    { length: depth },
    (_, i) =>
      new ReversibleBlock(
        fKind === 'local' ? new LocalAttention(10 * i) : new Mlp(10 * i),
        new ChunkedFeedForward({ hiddenSize: dModel, feedForwardSize: dFF, activation: 'gelu', dropout: 0.1, chunkSize, seed: 10 * i + 5 }),
        { f: 'attention', g: 'feed_forward' },
      ),
  );
  return new ReversibleSequence(blocks, { reversible });
}

/** One configuration: `runs` timed forward + backward runs, each with its own peak measurement. */
function measure(depth, reversible, chunkSize, runs, L = length) {
  const seq = makeStack(depth, reversible, chunkSize);
  const x1 = randomNormal([batch, L, dModel], { seed: 1 });
  const x2 = randomNormal([batch, L, dModel], { seed: 2 });
  const dy = randomNormal([batch, L, 2 * dModel], { seed: 3 });
  const params = seq.parameters();
  const once = () => {
    tidy(() => {
      const { value, grads } = gradients(
        () =>
          seedScope(7, () => {
            const [y1, y2] = seq.forward(x1, x2);
            return concat([y1, y2], -1);
          }),
        [x1, x2, ...params],
        dy,
      );
      grads[0].dataSync(); // the run ends when a result has been read back
      dispose([value, grads]);
    });
  };
  const times = [];
  let peak = 0;
  for (let r = 0; r < runs; r++) {
    gc();
    const base = memory().liveBytes;
    resetPeak();
    const t0 = performance.now();
    once();
    times.push(performance.now() - t0);
    peak = Math.max(peak, memory().peakBytes - base);
  }
  times.sort((a, b) => a - b);
  const paramBytes = params.reduce((s, p) => s + p.size * 4, 0);
  dispose([x1, x2, dy]);
  seq.dispose();
  gc();
  return { peak, time: times[Math.floor(times.length / 2)], runs, paramBytes };
}

const mb = (b) => (b / 2 ** 20).toFixed(2);
const ms = (t) => t.toFixed(0);
function printTable(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
}

const start = performance.now();
const fDesc =
  fKind === 'local'
    ? `f = LayerNorm → LocalSelfAttention(${numHeads} heads × ${headSize}, chunk 64)`
    : `f = LayerNorm → Linear(${dModel}→${fHidden}) → gelu → Dropout → Linear(${fHidden}→${dModel})`;
console.log(
  `@reformer/reversible bench — backend ${getBackend().name}, batch ${batch}, L ${length}, dModel ${dModel}${quick ? ' (--quick)' : ''}\n` +
    `${fDesc}; g = ChunkedFeedForward(${dModel}→${dFF}→${dModel}, gelu, dropout 0.1)`,
);
console.log(
  `one activation [${batch}, ${length}, ${dModel}] float32 = ${mb(batch * length * dModel * 4)} MiB; ` +
    `peak = bytes allocated above the start of one forward + backward; time = median of ${repeats} runs` +
    `${Math.max(...depths) > repeatDepth ? ` at depth ≤ ${repeatDepth}, 1 run deeper` : ''} (after one warm-up)\n`,
);

// One warm-up (JIT) of every code path at a short length; its figures are not reported.
const warmL = Math.min(length, 512);
measure(1, true, 0, 1, warmL);
measure(1, false, 0, 1, warmL);
measure(1, true, Math.max(1, Math.floor(warmL / 8)), 1, warmL);

const runsAt = (depth) => (depth <= repeatDepth ? repeats : 1);
const rows = [];
for (const depth of depths) {
  const rev = measure(depth, true, 0, runsAt(depth));
  const plain = measure(depth, false, 0, runsAt(depth));
  rows.push({ depth, rev, plain });
  if (process.stderr.isTTY) process.stderr.write(`  depth ${depth} done (${((performance.now() - start) / 1000).toFixed(0)} s)\n`);
}
console.log('1. reversible vs plain residuals (feed-forward unchunked)');
printTable(
  ['depth', 'runs', 'params MiB', 'rev peak MiB', 'rev peak − param grads', 'plain peak MiB', 'plain/rev peak', 'rev ms', 'plain ms', 'time rev/plain'],
  rows.map(({ depth, rev, plain }) => [
    String(depth),
    String(rev.runs),
    mb(rev.paramBytes),
    mb(rev.peak),
    mb(rev.peak - rev.paramBytes),
    mb(plain.peak),
    (plain.peak / rev.peak).toFixed(2),
    ms(rev.time),
    ms(plain.time),
    (rev.time / plain.time).toFixed(2),
  ]),
);

// 2. Chunked vs unchunked feed-forward inside the reversible stack (the unchunked row reuses table 1's run).
const unchunked = rows.find((r) => r.depth === chunkDepth)?.rev ?? measure(chunkDepth, true, 0, runsAt(chunkDepth));
const chunkedRun = measure(chunkDepth, true, chunk, runsAt(chunkDepth));
console.log(`\n2. reversible stack, depth ${chunkDepth}: feed-forward unchunked vs chunked (chunkSize ${chunk} = L/${(length / chunk).toFixed(0)})`);
printTable(
  ['ff chunkSize', 'runs', 'peak MiB', 'peak − param grads', 'peak vs unchunked', 'ms', 'time vs unchunked'],
  [
    ['0 (unchunked)', unchunked, unchunked],
    [String(chunk), chunkedRun, unchunked],
  ].map(([name, r, ref]) => [
    name,
    String(r.runs),
    mb(r.peak),
    mb(r.peak - r.paramBytes),
    (r.peak / ref.peak).toFixed(2),
    ms(r.time),
    (r.time / ref.time).toFixed(2),
  ]),
);

const first = rows[0];
const last = rows[rows.length - 1];
const ratios = rows.map((r) => r.rev.time / r.plain.time);
const meanRatio = ratios.reduce((s, r) => s + r, 0) / ratios.length;
console.log(
  `\nreversible peak, depth ${last.depth} / depth ${first.depth}: ${(last.rev.peak / first.rev.peak).toFixed(2)}× ` +
    `(less the parameter gradients: ${((last.rev.peak - last.rev.paramBytes) / (first.rev.peak - first.rev.paramBytes)).toFixed(2)}×; ` +
    `plain: ${(last.plain.peak / first.plain.peak).toFixed(2)}×) — activation memory independent of depth: ` +
    `${(last.rev.peak - last.rev.paramBytes) / (first.rev.peak - first.rev.paramBytes) <= 1.25 ? 'yes' : 'NO'}`,
);
console.log(
  `time reversible / plain: mean ${meanRatio.toFixed(2)}× over depths ${depths.join(', ')} ` +
    `(min ${Math.min(...ratios).toFixed(2)}×, max ${Math.max(...ratios).toFixed(2)}×); the paper: about 1.3–1.5× — ` +
    `${meanRatio < 1.3 ? 'below' : meanRatio > 1.5 ? 'above' : 'within'} that range`,
);
console.log(`done in ${((performance.now() - start) / 1000).toFixed(1)} s`);
