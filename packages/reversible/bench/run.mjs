#!/usr/bin/env node
// The @reformer/reversible benchmark (a program that prints figures, not a test).
//
//   pnpm --filter @reformer/reversible build && pnpm --filter @reformer/reversible bench
//   node bench/run.mjs --length 1024 --d 64 --hidden 256 --batch 1 --repeats 3 --depths 1,2,4,8,12
//
// It runs the BUILT package (../dist/index.js) on @reformer/core's reference CPU backend. Each block is
// f = g = LayerNorm → Linear(d → hidden) → gelu → Dropout(0.1) → Linear(hidden → d) (a small
// feed-forward). For each depth it measures one forward + backward (gradients w.r.t. both input halves
// and every parameter, for a fixed cotangent of concat(y1, y2)), reversible vs plain residual:
//   - peak: core's exact memory().peakBytes during the run, after resetPeak(), minus the live bytes at
//     its start (parameters and inputs): activations, tape, recompute and the gradients themselves;
//   - time: the median wall time of --repeats runs (after one warm-up run).

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
import { ReversibleBlock, ReversibleSequence } from '../dist/index.js';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const batch = Number(flag('batch', 1));
const length = Number(flag('length', 1024));
const d = Number(flag('d', 64));
const hidden = Number(flag('hidden', 256));
const repeats = Number(flag('repeats', 3));
const depths = String(flag('depths', '1,2,4,8,12')).split(',').map(Number);

class FeedForward extends Module {
  constructor(seed) {
    super();
    this.layer_norm = this.addModule('layer_norm', new LayerNorm({ dim: d }));
    this.dense = this.addModule('dense', new Linear({ inFeatures: d, outFeatures: hidden, seed }));
    this.dropout = this.addModule('dropout', new Dropout({ rate: 0.1 }));
    this.output = this.addModule('output', new Linear({ inFeatures: hidden, outFeatures: d, seed: seed + 1 }));
  }
  forward(x) {
    return tidy(() => this.output.forward(this.dropout.forward(gelu(this.dense.forward(this.layer_norm.forward(x))))));
  }
}

function measure(depth, reversible) {
  const blocks = Array.from({ length: depth }, (_, i) => new ReversibleBlock(new FeedForward(10 * i), new FeedForward(10 * i + 5)));
  const seq = new ReversibleSequence(blocks, { reversible });
  const x1 = randomNormal([batch, length, d], { seed: 1 });
  const x2 = randomNormal([batch, length, d], { seed: 2 });
  const dy = randomNormal([batch, length, 2 * d], { seed: 3 });
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
  once(); // warm-up
  const base = memory().liveBytes;
  resetPeak();
  once();
  const peak = memory().peakBytes - base;
  const times = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    once();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const paramBytes = params.reduce((s, p) => s + p.size * 4, 0);
  dispose([x1, x2, dy]);
  seq.dispose();
  globalThis.gc?.();
  return { peak, time: times[Math.floor(times.length / 2)], paramBytes };
}

const mb = (b) => (b / 2 ** 20).toFixed(2);
const start = performance.now();
console.log(`@reformer/reversible bench — backend ${getBackend().name}, batch ${batch}, L ${length}, d ${d}, hidden ${hidden} (f = g = LN → Linear → gelu → Dropout → Linear)`);
console.log(`one activation [${batch}, ${length}, ${d}] float32 = ${mb(batch * length * d * 4)} MiB; peak = bytes allocated above the start of a forward + backward\n`);
const rows = [];
for (const depth of depths) {
  const rev = measure(depth, true);
  const plain = measure(depth, false);
  rows.push({ depth, rev, plain });
}
const header = ['depth', 'params MiB', 'reversible peak MiB', 'plain peak MiB', 'peak plain/rev', 'reversible ms', 'plain ms', 'time rev/plain'];
const table = rows.map(({ depth, rev, plain }) => [
  String(depth),
  mb(rev.paramBytes),
  mb(rev.peak),
  mb(plain.peak),
  (plain.peak / rev.peak).toFixed(2),
  rev.time.toFixed(1),
  plain.time.toFixed(1),
  (rev.time / plain.time).toFixed(2),
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const line = (cells) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
console.log(line(header));
for (const r of table) console.log(line(r));
const first = rows[0];
const last = rows[rows.length - 1];
console.log(
  `\nreversible peak, depth ${last.depth} / depth ${first.depth}: ${(last.rev.peak / first.rev.peak).toFixed(2)}× ` +
    `(plain: ${(last.plain.peak / first.plain.peak).toFixed(2)}×); ` +
    `reversible compute vs plain at depth ${last.depth}: ${(last.rev.time / last.plain.time).toFixed(2)}×`,
);
console.log(`done in ${((performance.now() - start) / 1000).toFixed(1)} s`);
