/**
 * Property-based checks (fast-check, fixed seed) of the kernels whose index arithmetic is the most
 * intricate — the fused attention forward and backward and the packed matmul — against the CPU
 * reference backend, over random shapes and 1, 2 or 3 threads: chunk counts that do not divide the
 * thread split, dv ≠ d, odd sizes, windows that repeat chunks, broadcast batches. Also a chunk of
 * 16K keys (full attention at 16K slots), whose scratch passed 2^31 bytes.
 */
import { createCpuBackend, type Backend, type KernelTensor } from '@reformer/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WasmBackend, WasmMemoryLimitError, type WasmStorage } from '../src/index.js';
import { type AttentionProblem, attentionInputs, matmulOf, random, runAttention, writeTensor } from './helpers.js';
import { createWasm } from './setup.js';

const cpu = createCpuBackend();
/** Backends on 1, 2 and 3 threads. */
const backends: WasmBackend[] = [];
beforeAll(async () => {
  for (const threads of [1, 2, 3]) backends.push(await createWasm({ threads }));
});
afterAll(() => {
  for (const be of backends) be.dispose();
});

/** The largest |got − want| and the largest |want|. */
function worst(got: Float32Array, want: Float32Array): { error: number; magnitude: number } {
  expect(got.length).toBe(want.length);
  let error = 0;
  let magnitude = 0;
  for (let i = 0; i < got.length; i++) {
    error = Math.max(error, Math.abs(got[i]! - want[i]!));
    magnitude = Math.max(magnitude, Math.abs(want[i]!));
  }
  return { error, magnitude };
}

const attentionProblem = fc
  .record({
    B: fc.integer({ min: 1, max: 2 }),
    H: fc.integer({ min: 1, max: 3 }),
    chunks: fc.integer({ min: 1, max: 7 }),
    chunkLength: fc.integer({ min: 1, max: 40 }),
    d: fc.integer({ min: 1, max: 70 }),
    dv: fc.integer({ min: 1, max: 70 }),
    chunksBefore: fc.integer({ min: 0, max: 3 }),
    chunksAfter: fc.integer({ min: 0, max: 2 }),
    causal: fc.boolean(),
    excludeSelf: fc.boolean(),
    permute: fc.boolean(),
    buckets: fc.integer({ min: 0, max: 4 }),
    mask: fc.boolean(),
    thread: fc.integer({ min: 0, max: 2 }),
  })
  .map(({ chunks, ...p }) => ({ ...p, N: chunks * p.chunkLength }));

/** Batch shapes of A and B that broadcast, with their output batch. */
const batches: [number[], number[], number[]][] = [
  [[], [], []],
  [[3], [], [3]],
  [[], [2], [2]],
  [
    [2, 1],
    [3, 1],
    [2, 3],
  ],
];

const matmulProblem = fc.record({
  M: fc.integer({ min: 1, max: 200 }),
  N: fc.integer({ min: 1, max: 200 }),
  K: fc.integer({ min: 1, max: 300 }),
  tA: fc.boolean(),
  tB: fc.boolean(),
  batch: fc.integer({ min: 0, max: batches.length - 1 }),
  thread: fc.integer({ min: 0, max: 2 }),
});

/** The wasm kernel on problem `p` (on `p.thread`'s backend) matches the CPU reference. */
function attentionMatches(p: AttentionProblem & { thread: number }): void {
  const be = backends[p.thread]!;
  const got = runAttention(be, p);
  const want = runAttention(cpu, p);
  ['out', 'lse', 'dq', 'dk', 'dv'].forEach((name, j) => {
    const { error, magnitude } = worst(got[j]!, want[j]!);
    // float32 accumulation (the reference accumulates in doubles): relative to the largest value.
    expect(error, `${name} (largest |value| ${magnitude})`).toBeLessThanOrEqual(1e-5 * Math.max(1, magnitude));
  });
  expect(be.memory().liveBytes).toBe(0);
}

describe('kernels against the CPU reference on random shapes and thread counts (fast-check)', () => {
  it('chunked attention forward and backward', () => {
    fc.assert(fc.property(attentionProblem, attentionMatches), { seed: 20_250_612, numRuns: 60 });
  });

  it('chunked attention at the shapes layers use (chunk length and dHead multiples of 8; windows that repeat chunks)', () => {
    const sliding = attentionProblem.chain((p) =>
      fc
        .record({ c8: fc.integer({ min: 1, max: 4 }), d8: fc.integer({ min: 1, max: 8 }), chunks: fc.integer({ min: 1, max: 6 }) })
        .map(({ c8, d8, chunks }) => ({ ...p, chunkLength: 8 * c8, d: 8 * d8, N: 8 * c8 * chunks })),
    );
    fc.assert(fc.property(sliding, attentionMatches), { seed: 20_251_203, numRuns: 30 });
  });

  it('argMax and signedArgMax along the last axis: the first maximum, on rows full of ties, NaN, ±∞ and ±0', () => {
    const value = fc.constantFrom(0, -0, 1, -1, 2, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY);
    const rows = fc.record({
      rows: fc.integer({ min: 1, max: 3 }),
      len: fc.integer({ min: 1, max: 41 }),
      thread: fc.integer({ min: 0, max: 2 }),
    });
    fc.assert(
      fc.property(
        rows.chain(({ rows, len, thread }) =>
          fc.record({
            rows: fc.constant(rows),
            len: fc.constant(len),
            thread: fc.constant(thread),
            values: fc.array(value, { minLength: rows * len, maxLength: rows * len }),
          }),
        ),
        ({ rows, len, thread, values }) => {
          const argMaxOf = (be: Backend) => {
            const x = writeTensor(be, Float32Array.from(values), [rows, len]);
            const out = be.argMax(x, 1);
            const got = Array.from(be.readSync!(out.storage, 'int32', rows));
            be.free(x.storage);
            be.free(out.storage);
            return got;
          };
          expect(argMaxOf(backends[thread]!)).toEqual(argMaxOf(cpu));
          // signedArgMax: the reference's argMax over every row followed by its negation
          const be = backends[thread]!;
          const x = writeTensor(be, Float32Array.from(values), [rows, len]);
          const out = be.signedArgMax!(x);
          const got = Array.from(be.readSync!(out.storage, 'int32', rows));
          be.free(x.storage);
          be.free(out.storage);
          const both = Array.from({ length: rows }, (_, r) => values.slice(r * len, (r + 1) * len)).flatMap((row) => [
            ...row,
            ...row.map((v) => -v),
          ]);
          const y = writeTensor(cpu, Float32Array.from(both), [rows, 2 * len]);
          const want = cpu.argMax(y, 1);
          expect(got).toEqual(Array.from(cpu.readSync!(want.storage, 'int32', rows)));
          cpu.free(y.storage);
          cpu.free(want.storage);
        },
      ),
      { seed: 20_251_203, numRuns: 300 },
    );
  });

  it('batched matmul, every transpose, broadcast batches', () => {
    fc.assert(
      fc.property(matmulProblem, ({ M, N, K, tA, tB, batch, thread }) => {
        const [aBatch, bBatch, outBatch] = batches[batch]!;
        const aShape = [...aBatch, ...(tA ? [K, M] : [M, K])];
        const bShape = [...bBatch, ...(tB ? [N, K] : [K, N])];
        const size = (s: number[]) => s.reduce((x, y) => x * y, 1);
        const a = random(size(aShape), M * 7 + K, 0.5);
        const b = random(size(bShape), N * 13 + K, 0.5);
        const outShape = [...outBatch, M, N];
        const got = matmulOf(backends[thread]!, a, aShape, b, bShape, tA, tB, outShape);
        const want = matmulOf(cpu, a, aShape, b, bShape, tA, tB, outShape);
        // float32 sums of K products of values in [-0.5, 0.5): the reference sums in doubles.
        expect(worst(got, want).error).toBeLessThanOrEqual(2e-6 * Math.sqrt(K) + 1e-7);
        expect(backends[thread]!.memory().liveBytes).toBe(0);
      }),
      { seed: 20_250_612, numRuns: 40 },
    );
  });
});

describe('a chunk of 16K keys (full attention at 16K slots)', () => {
  it('asks for its scratch (past 2^31 bytes for the backward) and gets WasmMemoryLimitError where it does not fit, never a trap', async () => {
    const be = await createWasm({ maxMemoryBytes: 256 * 2 ** 20 });
    const N = 16384;
    const p: AttentionProblem = {
      ...{ B: 1, H: 1, N, d: 64, dv: 64, chunkLength: N, chunksBefore: 0, chunksAfter: 0 },
      ...{ causal: true, excludeSelf: false, permute: false, buckets: 0, mask: false },
    };
    const { q, k, v, dOut, dLse, params, made } = attentionInputs(be, p);
    const refused = (f: () => unknown, atLeast: number) => {
      const live = be.memory().liveBytes;
      let error: unknown;
      try {
        f();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(WasmMemoryLimitError);
      // the logits of one chunk: 16K × 16K floats (1 GiB) forward, twice that backward
      expect((error as WasmMemoryLimitError).requestedBytes).toBeGreaterThan(atLeast);
      expect(be.memory().liveBytes).toBe(live);
    };
    refused(() => be.chunkedAttention(q, k, v, params), 2 ** 30);
    const fake = (shape: number[]): KernelTensor<WasmStorage> => ({
      storage: be.fill(shape, 0, 'float32').storage,
      shape,
      dtype: 'float32',
    });
    const out = fake([1, 1, N, 64]);
    const lse = fake([1, 1, N]);
    refused(() => be.chunkedAttentionBackward(q, k, v, out, lse, dOut, dLse, params), 2 ** 31);
    for (const t of [...made, out, lse]) be.free(t.storage);
    be.dispose();
  });
});
