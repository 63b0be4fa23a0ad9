/**
 * The float16-tile matmul (`matmulPrecision: 'f16'`) on lavapipe (Vulkan, `shader-f16`), tested against
 * the float32 path and an exact (float64) reference: every output is within the error that rounding
 * the inputs to float16 can cause (≤ 2⁻¹⁰ relative, or 2⁻¹⁴ absolute near zero, per input; WGSL lets
 * the conversion round either way and flush subnormals) plus float32 accumulation; products of
 * float16 values are exact in float32. Inputs float16 cannot hold are reported by the readback; an
 * adapter without `shader-f16` refuses the option by name.
 */
import { InvalidArgumentError, matmul, tensor, tidy } from '@reformer/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WebGPUFeatureError, type WebGPUBackend } from '../src/index.js';
import { host, onBackend } from './helpers.js';
import { createTestBackend } from './setup.js';

let f16: WebGPUBackend;
let f32: WebGPUBackend;
beforeAll(async () => {
  f16 = await createTestBackend('vulkan', { matmulPrecision: 'f16' });
  f32 = await createTestBackend('vulkan');
});
afterAll(() => [f16, f32].forEach((g) => g?.dispose()));

/** Deterministic N(0, σ²) values (Box–Muller over a 32-bit LCG), with a few exact zeros and tiny values. */
function normals(n: number, seed: number, sigma: number): Float32Array {
  let s = seed >>> 0;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++)
    out[i] = i % 97 === 0 ? 0 : i % 89 === 0 ? 3e-6 : sigma * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

/** Worst error of a float16-rounded input: 2⁻¹⁰ relative, at least 2⁻¹⁴ (subnormals may flush). */
const e16 = (x: number) => Math.max(Math.abs(x) * 2 ** -10, 2 ** -14);

interface Case {
  m: number;
  k: number;
  n: number;
  /** Batch of A and of B ([] or [nb]; B may broadcast). */
  ba: number[];
  bb: number[];
  sigma: number;
}

/** Exact C (float64) and the bound on |C16 − C| per element, for row-major data with transposes. */
function reference(c: Case, a: Float32Array, b: Float32Array, ta: boolean, tb: boolean): { exact: Float64Array; bound: Float64Array } {
  const { m, k, n } = c;
  const nb = Math.max(c.ba[0] ?? 1, c.bb[0] ?? 1);
  const exact = new Float64Array(nb * m * n);
  const bound = new Float64Array(nb * m * n);
  for (let z = 0; z < nb; z++) {
    const aOff = c.ba.length ? z * m * k : 0;
    const bOff = c.bb.length ? z * k * n : 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        let rounding = 0;
        let magnitude = 0;
        for (let p = 0; p < k; p++) {
          const x = a[aOff + (ta ? p * m + i : i * k + p)]!;
          const y = b[bOff + (tb ? j * k + p : p * n + j)]!;
          sum += x * y;
          rounding += Math.abs(x) * e16(y) + Math.abs(y) * e16(x) + e16(x) * e16(y);
          magnitude += (Math.abs(x) + e16(x)) * (Math.abs(y) + e16(y));
        }
        const o = (z * m + i) * n + j;
        exact[o] = sum;
        // Float32 accumulation of k exact products (a split-K reduction adds one more level).
        bound[o] = rounding + (k + 2) * 2 ** -24 * magnitude;
      }
    }
  }
  return { exact, bound };
}

const cases: Case[] = [
  { m: 64, k: 48, n: 64, ba: [], bb: [], sigma: 1 }, // vec4 loads
  { m: 67, k: 21, n: 33, ba: [2], bb: [], sigma: 3 }, // scalar loads, broadcast B
  { m: 128, k: 36, n: 20, ba: [2], bb: [2], sigma: 100 }, // large values, still in float16's range
  { m: 32, k: 3000, n: 20, ba: [], bb: [], sigma: 0.05 }, // split K
];

it('stages the tiles as float16: every output within the float16 rounding bound of the exact product, for every transpose combo', async () => {
  const failures: string[] = [];
  let differs = 0;
  for (const c of cases) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const a = normals((c.ba[0] ?? 1) * c.m * c.k, c.m * 31 + c.k, c.sigma);
        const b = normals((c.bb[0] ?? 1) * c.k * c.n, c.k * 17 + c.n, c.sigma);
        const run = () =>
          tidy(() => [
            matmul(
              tensor(a, [...c.ba, ...(ta ? [c.k, c.m] : [c.m, c.k])]),
              tensor(b, [...c.bb, ...(tb ? [c.n, c.k] : [c.k, c.n])]),
              ta,
              tb,
            ),
          ]);
        const [got] = await host(await onBackend(f16, run));
        const [full] = await host(await onBackend(f32, run));
        const { exact, bound } = reference(c, a, b, ta, tb);
        let worst = 0;
        for (let i = 0; i < exact.length; i++) {
          worst = Math.max(worst, Math.abs(got![i]! - exact[i]!) / bound[i]!);
          differs = Math.max(differs, Math.abs(got![i]! - full![i]!));
        }
        if (!(worst <= 1) || got!.length !== exact.length)
          failures.push(`M${c.m} K${c.k} N${c.n} σ ${c.sigma} ta ${ta} tb ${tb}: ${worst} of the bound`);
      }
    }
  }
  expect(failures).toEqual([]);
  // The inputs are not float16 values: a kernel that did not round them would equal the float32 path.
  expect(differs).toBeGreaterThan(0);
  expect(f16.kernelFeatures.matmulPrecision).toBe('f16');
  expect(
    f16.runtime.pipelines
      .keys()
      .filter((k) => k.startsWith('matmul:'))
      .every((k) => k.endsWith(':f16')),
  ).toBe(true);
}, 120_000);

it('the small-matrix variant (M or N below 16) stays float32: bit-identical to the float32 backend', async () => {
  const a = normals(2 * 9 * 70, 3, 1);
  const b = normals(70 * 5, 4, 1);
  const run = () => tidy(() => [matmul(tensor(a, [2, 9, 70]), tensor(b, [70, 5]))]);
  const [got] = await host(await onBackend(f16, run));
  const [want] = await host(await onBackend(f32, run));
  expect(Array.from(got!)).toEqual(Array.from(want!));
});

it('an input float16 cannot hold is reported by the readback (operand and value named), and the backend goes on', async () => {
  for (const [where, value, pattern] of [
    ['A', 70000, /operand A holds 70000/],
    ['B', Number.NaN, /operand B holds NaN/],
    ['A', -Infinity, /operand A holds -Infinity/],
  ] as const) {
    const a = normals(32 * 32, 5, 1);
    const b = normals(32 * 32, 6, 1);
    (where === 'A' ? a : b)[100] = value;
    const err = await onBackend(f16, async () => {
      const c = matmul(tensor(a, [32, 32]), tensor(b, [32, 32]));
      return c.data().then(
        () => undefined,
        (e: unknown) => e,
      );
    });
    expect(err, `${where} ${value}`).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(pattern);
    expect((err as Error).message).toMatch(/matmulPrecision 'f32'/);
  }
  // The error was reported once: the next product reads back normally.
  const ok = await onBackend(f16, async () =>
    host([matmul(tensor(normals(32 * 32, 7, 1), [32, 32]), tensor(normals(32 * 32, 8, 1), [32, 32]))]),
  );
  expect(ok[0]!.every(Number.isFinite)).toBe(true);
});

it('an adapter without shader-f16 refuses matmulPrecision f16 with WebGPUFeatureError', async () => {
  const err = await createTestBackend('opengles', { matmulPrecision: 'f16' }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WebGPUFeatureError);
  expect((err as Error).message).toMatch(/shader-f16/);
  expect((err as Error).message).toMatch(/matmulPrecision 'f32'/);
});
