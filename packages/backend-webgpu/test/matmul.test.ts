/**
 * Matmul on the shapes that take the vec4 load paths (contiguous axis a multiple of 4) and those that
 * do not, every transpose combination, with broadcast batches, against the CPU backend.
 */
import { abs, matmul, randomNormal, seedScope, tidy } from '@reformer/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { WebGPUBackend } from '../src/index.js';
import { splitK } from '../src/kernels/matmul.js';
import { cpu, host, onBackend } from './helpers.js';
import { createTestBackend } from './setup.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await createTestBackend();
});
afterAll(() => gpu?.dispose());

const shapes: [number, number, number, number[], number[]][] = [
  [64, 32, 48, [], []],
  [68, 36, 20, [2], [2]],
  [8, 4, 12, [3, 1], [2]],
  [67, 36, 21, [2], []],
  [65, 33, 17, [], [2]],
  [128, 130, 4, [], []],
  [1, 36, 40, [2], [2]],
  [9, 5, 70, [], [3]],
  [20, 8, 3, [2], []],
];

it('matmul: vec4 and scalar loads, tiled and small variants, all transpose combos, broadcast batches (vs CPU)', async () => {
  const failures: string[] = [];
  for (const [m, k, n, ba, bb] of shapes) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const run = () =>
          tidy(() => {
            const a = seedScope(m * 7 + k, () => randomNormal(ta ? [...ba, k, m] : [...ba, m, k]));
            const b = seedScope(k * 5 + n, () => randomNormal(tb ? [...bb, n, k] : [...bb, k, n]));
            return [matmul(a, b, ta, tb)];
          });
        const [want] = await host(await onBackend(cpu, run));
        const [got] = await host(await onBackend(gpu, run));
        let worst = 0;
        for (let i = 0; i < want!.length; i++) worst = Math.max(worst, Math.abs(got![i]! - want![i]!) / (1 + Math.abs(want![i]!)));
        // Float32 sums of K products of N(0,1) values, accumulated in another order: ~1e-6 relative.
        if (!(worst <= 1e-5) || got!.length !== want!.length)
          failures.push(`M${m} K${k} N${n} batch ${JSON.stringify(ba)}×${JSON.stringify(bb)} ta ${ta} tb ${tb}: worst ${worst}`);
      }
    }
  }
  expect(failures).toEqual([]);
});

it('matmul with more batches than one dispatch grid axis holds (70000 × [1×2 · 2×1])', async () => {
  const run = () =>
    tidy(() => {
      const a = seedScope(1, () => randomNormal([70000, 1, 2]));
      const b = seedScope(2, () => randomNormal([70000, 2, 1]));
      return [matmul(a, b)];
    });
  const [want] = await host(await onBackend(cpu, run));
  const [got] = await host(await onBackend(gpu, run));
  let worst = 0;
  for (let i = 0; i < want!.length; i++) worst = Math.max(worst, Math.abs(got![i]! - want![i]!));
  expect(got!.length).toBe(70000);
  expect(worst).toBeLessThanOrEqual(1e-6);
}, 120_000);

it('split-K matmul (few output tiles, long K) matches the CPU backend, every transpose combo', async () => {
  const cases: [number, number, number, number[]][] = [
    [64, 4096, 64, []],
    [33, 3000, 17, []],
    [20, 2500, 20, [2]],
  ];
  const failures: string[] = [];
  for (const [m, k, n, batch] of cases) {
    expect(
      splitK(
        m,
        n,
        k,
        batch.reduce((x, y) => x * y, 1),
        1 << 30,
      ).splits,
      `M${m} K${k} N${n} splits`,
    ).toBeGreaterThan(1);
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const operands = () => [
          seedScope(m + k, () => randomNormal(ta ? [...batch, k, m] : [...batch, m, k])),
          seedScope(k + n, () => randomNormal(tb ? [...batch, n, k] : [...batch, k, n])),
        ];
        const run = () =>
          tidy(() => {
            const [a, b] = operands();
            return [matmul(a!, b!, ta, tb)];
          });
        const [want] = await host(await onBackend(cpu, run));
        const [got] = await host(await onBackend(gpu, run));
        // The conformance suite's bound: 1e-5 + 1e-5·(|A|·|B|), the error scale of a float32 dot product.
        const [scale] = await host(
          await onBackend(cpu, () =>
            tidy(() => {
              const [a, b] = operands();
              return [matmul(abs(a!), abs(b!), ta, tb)];
            }),
          ),
        );
        let worst = 0;
        for (let i = 0; i < want!.length; i++) worst = Math.max(worst, Math.abs(got![i]! - want![i]!) / (1e-5 + 1e-5 * scale![i]!));
        if (!(worst <= 1) || got!.length !== want!.length)
          failures.push(`M${m} K${k} N${n} ta ${ta} tb ${tb}: worst ${worst} of the bound`);
      }
    }
  }
  expect(failures).toEqual([]);
}, 120_000);
