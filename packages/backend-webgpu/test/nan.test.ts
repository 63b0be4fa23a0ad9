/**
 * NaN handling agrees with the CPU backend on both adapters: argSort puts NaN last (stably), argMax
 * skips NaN, max/min and maximum/minimum propagate it. (WGSL leaves NaN in max/min and comparisons unspecified, and
 * lavapipe folds `x != x` to false: the kernels test NaN by its bits.)
 */
import { argMax, argSort, max, maximum, min, minimum, tensor } from '@reformer/core';
import { expect, it } from 'vitest';
import { cpu, onBackend } from './helpers.js';
import { describeEachAdapter } from './setup.js';

const rows = [
  [3, NaN, 1, NaN, 1, -2, 0, NaN],
  [NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN],
  [NaN, 5, 5, -1, NaN, 2, 5, 0],
  [1, 2, 3, 4, 5, 6, 7, NaN],
];

/** The rows repeated 5 times: 40 values per row take the workgroup (not the per-invocation) reductions. */
const long = rows.map((r) => [...r, ...r, ...r, ...r, ...r]);

describeEachAdapter((gpu) => {
  for (const [name, data, width] of [
    ['8 per row', rows, 8],
    ['40 per row', long, 40],
  ] as const) {
    it(`argSort, argMax, max, min, maximum and minimum on rows with NaN match the CPU backend (${name})`, async () => {
      const run = async () => {
        const x = tensor(Float32Array.from(data.flat()), [4, width]);
        const y = tensor(Float32Array.from(data.flat().reverse()), [4, width]);
        const outs = [argSort(x), argMax(x, 1), max(x, 1), min(x, 1), maximum(x, y), minimum(x, y)];
        const vals: number[][] = [];
        for (const o of outs) vals.push(Array.from(await o.data()));
        for (const t of [x, y, ...outs]) t.dispose();
        return vals;
      };
      const want = await onBackend(cpu, run);
      const got = await onBackend(gpu(), run);
      expect(got).toEqual(want);
    });
  }
});
