/**
 * Results do not depend on the thread count: matmul, the fused attention forward and backward and the
 * split element-wise kernels give the same bits on 1, 2 and 3 threads (each output element is computed by one thread with the
 * single-threaded loop order). Also: a Node process that used a 2-thread backend exits on its own after
 * `dispose()`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Backend, KernelTensor, Shape } from '@reformer/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WasmBackend } from '../src/index.js';
import { type AttentionProblem, LSH_LIKE, bits, random, runAttention } from './helpers.js';
import { createWasm } from './setup.js';

const size = (shape: Shape) => shape.reduce((p, d) => p * d, 1);

function runMatmul(be: Backend, aShape: Shape, bShape: Shape, tA: boolean, tB: boolean, outShape: Shape): Uint32Array {
  const x = { storage: be.write(random(size(aShape), 1), 'float32'), shape: aShape, dtype: 'float32' as const };
  const y = { storage: be.write(random(size(bShape), 2), 'float32'), shape: bShape, dtype: 'float32' as const };
  const z = be.matmul(x, y, tA, tB, outShape);
  const out = bits(be.readSync!(z.storage, 'float32', size(outShape)) as Float32Array);
  for (const s of [x.storage, y.storage, z.storage]) be.free(s);
  return out;
}

function runBinary(be: Backend, op: 'add' | 'div' | 'maximum', aShape: Shape, bShape: Shape, outShape: Shape): Uint32Array {
  const x = { storage: be.write(random(size(aShape), 3), 'float32'), shape: aShape, dtype: 'float32' as const };
  const y = { storage: be.write(random(size(bShape), 4), 'float32'), shape: bShape, dtype: 'float32' as const };
  const z = be.binary(op, x, y, outShape);
  const u = be.unary('sqrt', z);
  const out = bits(be.readSync!(u.storage, 'float32', size(outShape)) as Float32Array);
  for (const s of [x.storage, y.storage, z.storage, u.storage]) be.free(s);
  return out;
}

/** A gather of `n` rows (of `inner` floats) out of `size`, per each of `outer` blocks, with indices in any order. */
function runGather(be: Backend, outer: number, size: number, n: number, inner: number): Uint32Array {
  const x = { storage: be.write(random(outer * size * inner, 6), 'float32'), shape: [outer, size, inner], dtype: 'float32' as const };
  const idx = Int32Array.from({ length: outer * n }, (_, j) => (j * 7919) % size);
  const i = { storage: be.write(idx, 'int32'), shape: [outer, n], dtype: 'int32' as const };
  const z = be.gather(x, i, 1);
  const out = bits(be.readSync!(z.storage, 'float32', outer * n * inner) as Float32Array);
  for (const s of [x.storage, i.storage, z.storage]) be.free(s);
  return out;
}

/** Scatter-add of `n` rows of `inner` floats into `size` rows (indices with repeats). */
function runScatterAdd(be: Backend, n: number, size: number, inner: number): Uint32Array {
  const u = { storage: be.write(random(n * inner, 7), 'float32'), shape: [1, n, inner], dtype: 'float32' as const };
  const i = {
    storage: be.write(
      Int32Array.from({ length: n }, (_, j) => (j * 7919) % size),
      'int32',
    ),
    shape: [1, n],
    dtype: 'int32' as const,
  };
  const z = be.scatterAdd(u, i, 1, size);
  const out = bits(be.readSync!(z.storage, 'float32', size * inner) as Float32Array);
  for (const s of [u.storage, i.storage, z.storage]) be.free(s);
  return out;
}

/** Sums of `x` `[a, b, c]` over `axes`. */
function runSum(be: Backend, shape: Shape, axes: number[]): Uint32Array {
  const x = { storage: be.write(random(size(shape), 8), 'float32'), shape, dtype: 'float32' as const };
  const z = be.reduce('sum', x, axes);
  const out = bits(be.readSync!(z.storage, 'float32', size(z.shape)) as Float32Array);
  for (const s of [x.storage, z.storage]) be.free(s);
  return out;
}

/** Index of the first maximum of `x` along `axis` (ties made likely by rounding the values). */
function runArgMax(be: Backend, shape: Shape, axis: number): Int32Array {
  const data = random(size(shape), 9).map((v) => Math.round(v * 8));
  const x = { storage: be.write(data, 'float32'), shape, dtype: 'float32' as const };
  const z = be.argMax(x, axis);
  const out = Int32Array.from(be.readSync!(z.storage, 'int32', size(z.shape)) as Int32Array);
  for (const s of [x.storage, z.storage]) be.free(s);
  return out;
}

/** A transpose, a slice and a concat of large tensors, read back as bits. */
function runLayout(be: Backend): Uint32Array[] {
  const shape = [3, 1025, 4, 24];
  const x = { storage: be.write(random(size(shape), 10), 'float32'), shape, dtype: 'float32' as const };
  const t = be.transpose(x, [0, 2, 1, 3]);
  const s = be.slice(x, [1, 3, 0, 5], [2, 1000, 4, 17]);
  const c = be.concat([x, x], 1);
  const read = (z: KernelTensor) => bits(be.readSync!(z.storage, 'float32', size(z.shape)) as Float32Array);
  const out = [t, s, c].map(read);
  for (const z of [x, t, s, c]) be.free(z.storage);
  return out;
}

/** Expects the results of 2, 3, … threads (`results[1…]`) to be the bits of one thread's (`results[0]`). */
function expectSameBits(results: readonly Uint32Array[], what = ''): void {
  const [one, ...more] = results;
  more.forEach((r, j) => expect(firstDifference(r, one!), `${what}${j + 2} threads vs 1: first differing element`).toBe(-1));
}

/** Index of the first differing element, or −1. */
function firstDifference(a: Uint32Array, b: Uint32Array): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

const matmuls: [string, Shape, Shape, boolean, boolean, Shape][] = [
  ['300×517 · 517×260', [300, 517], [517, 260], false, false, [300, 260]],
  ['Aᵀ·Bᵀ, 203×97 (K 301)', [301, 203], [97, 301], true, true, [203, 97]],
  ['batched 3×(130×64 · 64×70), B broadcast', [3, 130, 64], [64, 70], false, false, [3, 130, 70]],
  ['A·Bᵀ, 1030×40 (N past one NC block: 1030)', [40, 1030], [1030, 40], true, false, [1030, 1030]],
];

const binaries: [string, 'add' | 'div' | 'maximum', Shape, Shape, Shape][] = [
  ['same shape 300×333 add', 'add', [300, 333], [300, 333], [300, 333]],
  ['row broadcast 3×257×129 div 129', 'div', [3, 257, 129], [129], [3, 257, 129]],
  ['column broadcast 517×255 maximum 517×1', 'maximum', [517, 255], [517, 1], [517, 255]],
  ['one long row of 100,003 div a scalar', 'div', [100003], [], [100003]],
];

const attentions: [string, AttentionProblem][] = [
  ['LSH-like: 2 heads, chunk 64, d 64, 8 chunks, permuted, causal, excludeSelf', LSH_LIKE],
  [
    'one head, 16 chunks of 16, before 1 after 1, mask, d 32 dv 48',
    {
      B: 1,
      H: 1,
      N: 256,
      d: 32,
      dv: 48,
      chunkLength: 16,
      chunksBefore: 1,
      chunksAfter: 1,
      causal: false,
      excludeSelf: false,
      permute: true,
      buckets: 4,
      mask: true,
    },
  ],
  [
    'duplicated window chunks: 2 chunks of 3, before 2 after 1, d 5 dv 7',
    {
      B: 2,
      H: 1,
      N: 6,
      d: 5,
      dv: 7,
      chunkLength: 3,
      chunksBefore: 2,
      chunksAfter: 1,
      causal: false,
      excludeSelf: true,
      permute: false,
      buckets: 0,
      mask: false,
    },
  ],
  [
    '5 chunks of 8 (uneven split), causal, d 9',
    {
      B: 1,
      H: 3,
      N: 40,
      d: 9,
      dv: 9,
      chunkLength: 8,
      chunksBefore: 2,
      chunksAfter: 0,
      causal: true,
      excludeSelf: false,
      permute: false,
      buckets: 0,
      mask: true,
    },
  ],
];

for (const kernels of ['simd', 'relaxed-simd'] as const) {
  describe(`bit-identical results on 1, 2 and 3 threads (${kernels})`, () => {
    const backends: WasmBackend[] = [];
    beforeAll(async () => {
      for (const threads of [1, 2, 3]) backends.push(await createWasm({ kernels, threads }));
    });
    afterAll(() => {
      for (const be of backends) be.dispose();
    });
    it('runs the asked-for threads', () => {
      expect(backends.map((be) => be.kernelFeatures.threads)).toEqual([1, 2, 3]);
    });
    for (const [name, aShape, bShape, tA, tB, outShape] of matmuls) {
      it(`matmul ${name}`, () => {
        expectSameBits(backends.map((be) => runMatmul(be, aShape, bShape, tA, tB, outShape)));
      });
    }
    for (const [name, op, aShape, bShape, outShape] of binaries) {
      it(`binary then sqrt: ${name}`, () => {
        expectSameBits(backends.map((be) => runBinary(be, op, aShape, bShape, outShape)));
      });
    }
    it('gather of 2 × 4,099 rows of 17 out of 3,001', () => {
      expectSameBits(backends.map((be) => runGather(be, 2, 3001, 4099, 17)));
    });
    it('scatter-add of 8,192 rows of 66 into 1,001 (about 8 updates per row)', () => {
      expectSameBits(backends.map((be) => runScatterAdd(be, 8192, 1001, 66)));
    });
    for (const [shape, axes] of [
      [[4099, 65], [1]],
      [[301, 50, 13], [1]],
      [
        [3, 7, 4001, 3],
        [2, 3],
      ],
      [[4, 30001], [0]],
      [[2, 3, 16411], [1]],
    ] as [Shape, number[]][]) {
      it(`sum of ${shape.join('×')} over axes ${axes.join(',')}`, () => {
        expectSameBits(backends.map((be) => runSum(be, shape, axes)));
      });
    }
    for (const [shape, axis] of [
      [[65536, 32], 1],
      [[301, 40, 9], 1],
    ] as [Shape, number][]) {
      it(`argMax of ${shape.join('×')} along axis ${axis}`, () => {
        expectSameBits(backends.map((be) => new Uint32Array(runArgMax(be, shape, axis).buffer)));
      });
    }
    it('transpose, slice and concat of 3×1025×4×24', () => {
      const runs = backends.map((be) => runLayout(be));
      runs[0]!.forEach((_, t) =>
        expectSameBits(
          runs.map((r) => r[t]!),
          `copy ${t}: `,
        ),
      );
    });
    for (const [name, p] of attentions) {
      it(`attention forward and backward: ${name}`, () => {
        const runs = backends.map((be) => runAttention(be, p).map(bits));
        ['out', 'lse', 'dq', 'dk', 'dv'].forEach((name, t) =>
          expectSameBits(
            runs.map((r) => r[t]!),
            `${name}: `,
          ),
        );
        for (const be of backends) expect(be.memory().liveBytes).toBe(0);
      });
    }
  });
}

describe('threads option', () => {
  it('rejects a thread count that is not a positive integer, with a named error', async () => {
    await expect(createWasm({ threads: 0 })).rejects.toThrow(/threads must be an integer/);
    await expect(createWasm({ threads: 1.5 })).rejects.toThrow(/threads must be an integer/);
  });

  it('without SharedArrayBuffer (as on a page without cross-origin isolation) one thread runs, and threadsNote says why', () => {
    const script = `
      import { createWasmBackend } from '@reformer/backend-wasm/node';
      const be = await createWasmBackend({ threads: 2 });
      const s = be.write(Float32Array.of(1, 2, 3), 'float32');
      console.log(JSON.stringify({ sab: typeof SharedArrayBuffer, features: be.kernelFeatures, data: Array.from(be.readSync(s, 'float32', 3)) }));
      be.dispose();`;
    const out = execFileSync(process.execPath, ['--no-harmony-sharedarraybuffer', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    const r = JSON.parse(out.trim()) as { sab: string; features: { threads: number; threadsNote?: string }; data: number[] };
    expect(r.sab).toBe('undefined');
    expect(r.features.threads).toBe(1);
    expect(r.features.threadsNote).toMatch(/2 threads were asked for but SharedArrayBuffer is unavailable.*Cross-Origin-Opener-Policy/);
    expect(r.data).toEqual([1, 2, 3]);
  });

  it('a process with a 2-thread backend exits on its own after dispose()', async () => {
    const child = fileURLToPath(new URL('./fixtures/two-threads-exit.mjs', import.meta.url));
    const started = Date.now();
    const code = await new Promise<number | string>((resolve) => {
      const p = spawn(process.execPath, [child], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.on('data', (b: Buffer) => (out += b.toString()));
      const timer = setTimeout(() => {
        p.kill('SIGKILL');
        resolve('still running after 20 s');
      }, 20_000);
      p.on('exit', (c) => {
        clearTimeout(timer);
        resolve(out.includes('threads 2 ok') ? (c ?? -1) : `exit ${c}, output ${JSON.stringify(out)}`);
      });
    });
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 30_000);
});
