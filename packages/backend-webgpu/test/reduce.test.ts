/**
 * Reductions of many values into few outputs (split into parts, then the parts reduced), float32 and
 * int32, over leading, trailing and all axes, against the CPU backend.
 */
import { cast, max, min, mul, randomNormal, randomUniform, scalar, seedScope, sum, tidy, type Tensor } from '@reformer/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { WebGPUBackend } from '../src/index.js';
import { cpu, onBackend } from './helpers.js';
import { createTestBackend } from './setup.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await createTestBackend();
});
afterAll(() => gpu?.dispose());

/** Each case: outputs, and per output the number of values summed into each element (0: max/min or int32, exact). */
const cases: [string, () => Tensor[], number[]][] = [
  [
    'float32 [3, 40000] over axis 1, all axes, axis 0',
    () => {
      const x = seedScope(1, () => randomNormal([3, 40000]));
      return [sum(x, 1), max(x, 1), min(x, 1), sum(x), max(x), sum(x, 0)];
    },
    [40000, 0, 0, 120000, 0, 3],
  ],
  [
    'float32 [50000, 5] over axis 0',
    () => {
      const x = seedScope(2, () => randomNormal([50000, 5]));
      return [sum(x, 0), max(x, 0), min(x, 0)];
    },
    [50000, 0, 0],
  ],
  [
    'int32 [2, 3, 30000] over axes [0, 2]',
    () => {
      const x = tidy(() =>
        cast(
          mul(
            seedScope(3, () => randomUniform([2, 3, 30000], { min: -1, max: 1 })),
            scalar(1000),
          ),
          'int32',
        ),
      );
      return [sum(x, [0, 2]), max(x, [0, 2]), min(x, [0, 2])];
    },
    [0, 0, 0],
  ],
];

for (const [name, make, terms] of cases) {
  it(`large reductions: ${name}`, async () => {
    const read = async () => {
      const ts = tidy(make);
      const out: number[][] = [];
      for (const t of ts) out.push(Array.from(await t.data()));
      for (const t of ts) t.dispose();
      return out;
    };
    const want = await onBackend(cpu, read);
    const got = await onBackend(gpu, read);
    expect(got.length).toBe(want.length);
    got.forEach((g, i) => {
      expect(g.length).toBe(want[i]!.length);
      // The conformance suite's bound for sums, 1e-5·Σ|x| (Σ|x| ≈ 0.8 per N(0,1) term); max, min and
      // int32 sums are exact.
      const bound = 1e-5 * 0.8 * terms[i]!;
      g.forEach((v, j) => expect(Math.abs(v - want[i]![j]!), `${name} output ${i}[${j}]`).toBeLessThanOrEqual(bound));
    });
  });
}
