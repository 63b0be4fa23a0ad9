/**
 * SIMD binary ops with broadcasts that collapse to 1, 2 and more axes, unary ops, relu backward, sums,
 * layout copies (transpose, slice, concat, pad), gather and scatter-add with long blocks: all bit-identical to the CPU reference (float32 +, −, ×, ÷, max, min round the same way;
 * scatter-add sums in doubles in the same order).
 */
import { createCpuBackend, type Backend, type BinaryOp, type KernelTensor, type Shape, type UnaryOp } from '@reformer/core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WasmBackend } from '../src/index.js';
import { broadcastWalk } from '../src/elementwise.js';
import { random as seeded, writeTensor } from './helpers.js';
import { createWasm } from './setup.js';

/** Uniform in [−1, 1), with a NaN at index 3. */
function random(n: number, seed: number): Float32Array {
  const out = seeded(n, seed);
  if (n > 3) out[3] = NaN;
  return out;
}
const size = (s: Shape) => s.reduce((a, b) => a * b, 1);
const get = (be: Backend, t: KernelTensor) => Array.from(be.readSync!(t.storage, t.dtype, size(t.shape)));

describe('element-wise and indexing kernels are bit-identical to the CPU reference', () => {
  let wasm: WasmBackend;
  const cpu = createCpuBackend();
  beforeAll(async () => {
    wasm = await createWasm();
  });

  const cases: [Shape, Shape, Shape][] = [
    [[7], [7], [7]],
    [[], [5, 3], [5, 3]],
    [
      [2, 1, 3, 1],
      [1, 4, 1, 5],
      [2, 4, 3, 5],
    ],
    [
      [3, 1, 6],
      [3, 9, 6],
      [3, 9, 6],
    ],
    [
      [4, 1],
      [1, 1, 13],
      [1, 4, 13],
    ],
  ];
  for (const [aShape, bShape, outShape] of cases) {
    for (const op of ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'] as BinaryOp[]) {
      it(`${op} [${aShape}] with [${bShape}]`, () => {
        const a = random(size(aShape), 1);
        const b = random(size(bShape), 2);
        const run = (be: Backend) => {
          const x = writeTensor(be, a, aShape);
          const y = writeTensor(be, b, bShape);
          const z = be.binary(op, x, y, outShape);
          const r = get(be, z);
          for (const t of [x, y, z]) be.free(t.storage);
          return r;
        };
        expect(run(wasm)).toEqual(run(cpu));
      });
    }
  }

  for (const op of ['neg', 'abs', 'sqrt', 'square', 'reciprocal', 'floor', 'ceil', 'round', 'relu'] as UnaryOp[]) {
    it(`unary ${op} on 1,027 values (halves, ±0, NaN, ±∞)`, () => {
      const x = random(1027, 7).map((v, i) => (i % 5 === 0 ? Math.round(v * 8) / 2 : v * 100));
      x.set([0, -0, Infinity, -Infinity, 0.5, -0.5, 2.5, -2.5], 10);
      const run = (be: Backend) => {
        const t = writeTensor(be, x, [1027]);
        const u = be.unary(op, t);
        const r = get(be, u);
        for (const v of [t, u]) be.free(v.storage);
        return r;
      };
      expect(run(wasm)).toEqual(run(cpu));
    });
  }

  it('relu backward and sums over leading, middle, trailing and all axes', () => {
    const shape = [3, 5, 7, 9];
    const x = random(size(shape), 11);
    const dy = random(size(shape), 12);
    const run = (be: Backend) => {
      const t = writeTensor(be, x, shape);
      const d = writeTensor(be, dy, shape);
      const outs = [
        be.activationBackward!('relu', t, d),
        ...[[0], [1, 2], [3], [2, 3], [0, 1, 2, 3], [0, 2]].map((axes) => be.reduce('sum', t, axes)),
      ];
      const r = outs.map((o) => get(be, o));
      for (const v of [t, d, ...outs]) be.free(v.storage);
      return r;
    };
    expect(run(wasm)).toEqual(run(cpu));
  });

  it('transpose (last axis kept and moved), slice, concat of int32 along a middle axis, pad with a value', () => {
    const shape = [2, 3, 4, 5];
    const x = random(size(shape), 21);
    const ints = Int32Array.from({ length: 2 * 2 * 5 }, (_, i) => i * 7 - 30);
    const run = (be: Backend) => {
      const t = writeTensor(be, x, shape);
      const a = writeTensor(be, ints, [2, 2, 5]);
      const b = writeTensor(be, ints.slice(0, 2 * 1 * 5), [2, 1, 5]);
      const outs = [
        be.transpose(t, [0, 2, 1, 3]),
        be.transpose(t, [3, 1, 0, 2]),
        be.transpose(t, [0, 1, 2, 3]),
        be.slice(t, [1, 0, 1, 2], [1, 3, 2, 3]),
        be.concat([a, b, a], 1),
        be.pad(
          t,
          [
            [0, 1],
            [2, 0],
            [0, 0],
            [1, 1],
          ],
          -1.5,
        ),
        be.pad(
          a,
          [
            [1, 0],
            [0, 0],
            [0, 2],
          ],
          9,
        ),
      ];
      const r = outs.map((o) => get(be, o));
      for (const v of [t, a, b, ...outs]) be.free(v.storage);
      return r;
    };
    expect(run(wasm)).toEqual(run(cpu));
    expect(wasm.memory().liveBytes).toBe(0);
  });

  it('broadcastWalk merges contiguous runs and keeps broadcast axes apart', () => {
    expect(broadcastWalk([2, 3, 4], [2, 3, 4], [2, 3, 4])).toEqual({ sizes: [24], aStrides: [1], bStrides: [1] });
    expect(broadcastWalk([2, 1, 4], [2, 3, 4], [2, 3, 4])).toEqual({ sizes: [2, 3, 4], aStrides: [4, 0, 1], bStrides: [12, 4, 1] });
    expect(broadcastWalk([], [5], [5])).toEqual({ sizes: [5], aStrides: [0], bStrides: [1] });
  });

  it('gather along a middle axis and scatter-add with repeated targets', () => {
    const shape = [2, 10, 67];
    const x = random(size(shape), 5);
    const idx = Int32Array.from({ length: 2 * 13 }, (_, i) => (i * 7) % 10);
    const run = (be: Backend) => {
      const xt = writeTensor(be, x, shape);
      const it = writeTensor(be, idx, [2, 13]);
      const g = be.gather(xt, it, 1);
      const s = be.scatterAdd(g, it, 1, 10);
      const r = [get(be, g), get(be, s)];
      for (const t of [xt, it, g, s]) be.free(t.storage);
      return r;
    };
    expect(run(wasm)).toEqual(run(cpu));
    expect(wasm.memory().liveBytes).toBe(0);
  });
});
