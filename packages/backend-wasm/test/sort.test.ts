/**
 * Radix argsort and argmax against the CPU reference, exactly: float rows with NaN, ±0, ±∞ and ties,
 * int32 rows with negatives and many duplicates (the LSH sort keys), short rows (insertion sort), and
 * argmax along inner and outer axes.
 */
import { createCpuBackend, type Backend, type KernelTensor, type Shape } from '@reformer/core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WasmBackend } from '../src/index.js';
import { createWasm } from './setup.js';

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
const size = (s: Shape) => s.reduce((a, b) => a * b, 1);

function run(be: Backend, data: Float32Array | Int32Array, shape: Shape, fn: (be: Backend, t: KernelTensor) => KernelTensor): number[] {
  const dtype = data instanceof Int32Array ? 'int32' : 'float32';
  const t = { storage: be.write(data, dtype), shape, dtype } as KernelTensor;
  const r = fn(be, t);
  const out = Array.from(be.readSync!(r.storage, 'int32', size(r.shape)));
  be.free(t.storage);
  be.free(r.storage);
  return out;
}

describe('argSort and argMax are identical to the CPU reference', () => {
  let wasm: WasmBackend;
  const cpu = createCpuBackend();
  beforeAll(async () => {
    wasm = await createWasm();
  });
  const sort = (be: Backend, t: KernelTensor) => be.argSort(t);

  it('float rows of 1,000 with NaN, ±0, ±∞ and ties; rows of 5 and 31 (insertion sort)', () => {
    const rnd = lcg(1);
    for (const n of [1000, 5, 31, 33]) {
      const x = Float32Array.from({ length: 3 * n }, () => Math.round((rnd() - 0.5) * 20) / 4);
      for (let i = 0; i < x.length; i += 7) x[i] = [NaN, -0, 0, Infinity, -Infinity, -NaN][i % 6]!;
      expect(run(wasm, x, [3, n], sort), `n ${n}`).toEqual(run(cpu, x, [3, n], sort));
    }
  });

  it('int32 rows of 70,000 keys with negatives and duplicates', () => {
    const rnd = lcg(2);
    const x = Int32Array.from({ length: 2 * 70000 }, () => Math.floor((rnd() - 0.3) * 5000) * (rnd() < 0.01 ? 400000 : 1));
    expect(run(wasm, x, [2, 70000], sort)).toEqual(run(cpu, x, [2, 70000], sort));
  });

  it('argMax along the last, a middle and the first axis (first maximum, NaN never greater)', () => {
    const rnd = lcg(3);
    const shape = [4, 9, 6];
    const x = Float32Array.from({ length: size(shape) }, () => Math.round(rnd() * 6));
    x[0] = NaN;
    x.fill(-Infinity, 6, 12);
    for (const axis of [0, 1, 2]) {
      const f = (be: Backend, t: KernelTensor) => be.argMax(t, axis);
      expect(run(wasm, x, shape, f), `axis ${axis}`).toEqual(run(cpu, x, shape, f));
    }
    expect(wasm.memory().liveBytes).toBe(0);
  });
});
