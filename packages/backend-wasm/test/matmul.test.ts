/**
 * The packed SIMD GEMM against the CPU reference on shapes that cross every blocking boundary
 * (MR 4, NR 8, KC 256, MC 96, NC 1024), with all transpose flags and broadcast batch axes.
 */
import { createCpuBackend } from '@reformer/core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WasmBackend } from '../src/index.js';
import { matmulOf, random as seeded } from './helpers.js';
import { createWasm } from './setup.js';

/** Uniform in [−0.5, 0.5). */
const random = (n: number, seed: number) => seeded(n, seed, 0.5);

describe('matmul (packed SIMD GEMM) against the CPU reference', () => {
  let wasm: WasmBackend;
  const cpu = createCpuBackend();
  beforeAll(async () => {
    wasm = await createWasm();
  });
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [5, 3, 7],
    [4, 8, 300],
    [97, 1030, 13],
    [101, 19, 513],
    [33, 1025, 260],
  ];
  for (const [M, N, K] of shapes) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        it(`M ${M} N ${N} K ${K} transposeA ${tA} transposeB ${tB}`, () => {
          const aShape = tA ? [K, M] : [M, K];
          const bShape = tB ? [N, K] : [K, N];
          const a = random(M * K, M * 7 + K);
          const b = random(K * N, N * 13 + K);
          const got = matmulOf(wasm, a, aShape, b, bShape, tA, tB, [M, N]);
          const want = matmulOf(cpu, a, aShape, b, bShape, tA, tB, [M, N]);
          let worst = 0;
          for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
          // float32 sums of K products of values in [-0.5, 0.5): the reference sums in doubles.
          expect(worst).toBeLessThanOrEqual(2e-6 * Math.sqrt(K) + 1e-7);
          expect(wasm.memory().liveBytes).toBe(0);
        });
      }
    }
  }

  it('broadcasts batch axes ([2, 1] × [3] → [2, 3]) and K = 0 gives zeros', () => {
    const a = random(2 * 1 * 6 * 5, 1);
    const b = random(3 * 5 * 9, 2);
    const got = matmulOf(wasm, a, [2, 1, 6, 5], b, [3, 5, 9], false, false, [2, 3, 6, 9]);
    const want = matmulOf(cpu, a, [2, 1, 6, 5], b, [3, 5, 9], false, false, [2, 3, 6, 9]);
    for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-6);
    const zero = matmulOf(wasm, new Float32Array(0), [3, 0], new Float32Array(0), [0, 4], false, false, [3, 4]);
    expect(Array.from(zero)).toEqual(new Array(12).fill(0));
  });
});
