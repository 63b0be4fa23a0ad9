/**
 * Fail fast on sizes (issue 15, item 6) and bad values (item 7): absurd bucket counts, hash rounds,
 * windows and dense lengths are checked against the backend's `maxAllocationBytes` before anything is
 * allocated (the error gives the bytes and what to change, and raising the bound lets the call run);
 * mask values other than 0/1 and replayed buckets out of range are rejected with named errors.
 */
import { describe, expect, it } from 'vitest';
import {
  AllocationTooLargeError,
  DEFAULT_CPU_MAX_ALLOCATION_BYTES,
  InvalidArgumentError,
  createCpuBackend,
  dispose,
  memory,
  randomNormal,
  resetPeak,
  tensor,
  withBackend,
  type Backend,
  type Tensor,
} from '@reformer/core';
import { checkLSHAttentionSizes, fullAttention, hashVectors, localAttention, lshAttention } from '../src/index.js';

/** Runs `f`, expects it to throw `type`, and checks that the backend allocated nothing meanwhile. */
function expectFailFast<E extends Error>(f: () => unknown, type: new (...args: never[]) => E, backend?: Backend): E {
  const before = memory(backend).liveBytes;
  resetPeak(backend);
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(type);
  // Nothing was allocated: the peak never rose above what was live before the call.
  expect(memory(backend).peakBytes).toBe(before);
  expect(memory(backend).liveBytes).toBe(before);
  return caught as E;
}

const qk = randomNormal([1, 2, 16, 4], { seed: 1 });
const v = randomNormal([1, 2, 16, 4], { seed: 2 });

describe('lshAttention sizes', () => {
  it('nBuckets 2^31 → AllocationTooLargeError for the rotations, with their bytes and the advice', () => {
    const e = expectFailFast(() => lshAttention(qk, v, { chunkLength: 4, nBuckets: 2 ** 31 }), AllocationTooLargeError);
    // rotations [heads 2, dHead 4, nHashes 1, nBuckets/2 = 2^30] float32
    expect(e.bytes).toBe(2 * 4 * 2 ** 30 * 4);
    expect(e.limit).toBe(DEFAULT_CPU_MAX_ALLOCATION_BYTES);
    expect(e.message).toMatch(/random rotations \[2, 4, 1, 1073741824\]/);
    expect(e.message).toMatch(/34359738368 bytes/);
    expect(e.message).toMatch(/fewer buckets/);
    expect(e.message).toMatch(/maxAllocationBytes/);
  });

  it('nBuckets whose ids overflow int32 (with room under the bound) → InvalidArgumentError', () => {
    // 2^30 buckets · 2 rounds of ids (with the padding bucket) > 2^31 − 1, on a backend whose bound allows the tensors.
    const big = createCpuBackend({ maxAllocationBytes: 2 ** 50 });
    expect(() =>
      checkLSHAttentionSizes('t', {
        batch: 1,
        heads: 1,
        length: 16,
        dHead: 1,
        nHashes: 2,
        nBuckets: 2 ** 30,
        chunkLength: 4,
        chunksBefore: 1,
        chunksAfter: 0,
        backend: big,
      }),
    ).toThrow(/int32 range/);
  });

  it('nHashes 1e5 → AllocationTooLargeError for the sorted copies, advising fewer hashes', () => {
    // Heads are attended one group at a time (lshHeadGroup), so the bound applies to one head's copy.
    const q1 = randomNormal([1, 1, 16, 64], { seed: 3 });
    const e = expectFailFast(() => lshAttention(q1, q1, { chunkLength: 4, nHashes: 1.2e6 }), AllocationTooLargeError);
    expect(e.bytes).toBe(1.2e6 * 16 * 64 * 4);
    expect(e.message).toMatch(/sorted queries \[1, 1, 19200000, 64\]/);
    expect(e.message).toMatch(/fewer hashes/);
    q1.dispose();
    // The shapes ([1, 2, 16, 4]) need 51 MB: under a 16 MiB bound they fail fast too.
    const small = createCpuBackend({ maxAllocationBytes: 16 * 2 ** 20 });
    const [a, b] = withBackend(small, () => [randomNormal([1, 2, 16, 4], { seed: 1 }), randomNormal([1, 2, 16, 4], { seed: 2 })] as const);
    const e2 = expectFailFast(() => lshAttention(a, b, { chunkLength: 4, nHashes: 1e5 }), AllocationTooLargeError, small);
    expect(e2.message).toMatch(/fewer hashes/);
    expect(e2.backendName).toBe('cpu');
    dispose([a, b]);
  });

  it('chunksAfter 1e9 → AllocationTooLargeError for one chunk of logits, naming chunksAfter', () => {
    const e = expectFailFast(() => lshAttention(qk, v, { chunkLength: 4, chunksAfter: 1e9 }), AllocationTooLargeError);
    expect(e.bytes).toBe(4 * 4 * (1e9 + 2) * 4);
    expect(e.message).toMatch(/chunksAfter 1000000000/);
    // chunksAfter 1e6 (64 MB of logits per chunk) under a 16 MiB bound.
    const small = createCpuBackend({ maxAllocationBytes: 16 * 2 ** 20 });
    const [a, b] = withBackend(small, () => [randomNormal([1, 2, 16, 4], { seed: 1 }), randomNormal([1, 2, 16, 4], { seed: 2 })] as const);
    expect(expectFailFast(() => lshAttention(a, b, { chunkLength: 4, chunksAfter: 1e6 }), AllocationTooLargeError, small).message).toMatch(
      /chunksAfter 1000000/,
    );
    dispose([a, b]);
  });

  it('hashVectors checks its rotations the same way', () => {
    expect(expectFailFast(() => hashVectors(qk, { nBuckets: 2 ** 31, nHashes: 1 }), AllocationTooLargeError).message).toMatch(
      /hashVectors: random rotations/,
    );
  });

  it('seed NaN / 1.5 / −1 / 2^60 → InvalidArgumentError naming lshAttention', () => {
    for (const seed of [Number.NaN, 1.5, -1, 2 ** 60]) {
      expect(() => lshAttention(qk, v, { chunkLength: 4, seed })).toThrow(InvalidArgumentError);
      expect(() => lshAttention(qk, v, { chunkLength: 4, seed })).toThrow(/lshAttention: seed must be a non-negative integer/);
    }
  });
});

describe('fullAttention sizes', () => {
  it('length 65,536 without queryChunk → AllocationTooLargeError with the largest queryChunk that fits', () => {
    const q = randomNormal([1, 1, 65536, 2], { seed: 4 });
    const e = expectFailFast(() => fullAttention(q, q, q), AllocationTooLargeError);
    expect(e.bytes).toBe(65536 * 65536 * 4);
    expect(e.message).toMatch(/\[65536, 65536\]/);
    expect(e.message).toMatch(/17179869184 bytes/);
    expect(e.message).toMatch(/queryChunk ≤ 16384/);
    q.dispose();
  });

  it("the bound is the backend's: the advised queryChunk runs and equals dense attention on an unbounded backend", async () => {
    const small = createCpuBackend({ maxAllocationBytes: 2 ** 20 });
    const L = 1024;
    const values = await randomNormal([1, 1, L, 4], { seed: 5 }).data();
    const q = withBackend(small, () => tensor(values, [1, 1, L, 4]));
    const e = expectFailFast(() => fullAttention(q, q, q, { causal: true }), AllocationTooLargeError, small);
    expect(e.limit).toBe(2 ** 20);
    const advised = Number(/queryChunk ≤ (\d+)/.exec(e.message)![1]);
    expect(advised).toBe(2 ** 20 / (4 * L));
    const chunked = fullAttention(q, q, q, { causal: true, queryChunk: advised });
    const reference = tensor(values, [1, 1, L, 4]);
    const dense = fullAttention(reference, reference, reference, { causal: true });
    const [c, d] = [await chunked.data(), await dense.data()];
    for (let i = 0; i < d.length; i++) expect(c[i]).toBeCloseTo(d[i]!, 5);
    // Raising the bound on the same backend lets the dense call through.
    small.maxAllocationBytes = 2 ** 23;
    const raised = fullAttention(q, q, q, { causal: true });
    expect(Array.from(await raised.data())).toEqual(Array.from(d));
    dispose([q, chunked, reference, dense, raised]);
  });
});

describe('localAttention sizes', () => {
  it('chunksAfter 1e9 → AllocationTooLargeError naming chunksAfter', () => {
    const e = expectFailFast(() => localAttention(qk, qk, v, { chunkLength: 4, chunksAfter: 1e9 }), AllocationTooLargeError);
    expect(e.message).toMatch(/localAttention: the logits of one chunk/);
    expect(e.message).toMatch(/chunksAfter 1000000000/);
  });
});

describe('mask values', () => {
  const mask = (bad: number): Tensor =>
    tensor(
      Int32Array.from({ length: 16 }, (_, i) => (i === 5 ? bad : 1)),
      [1, 16],
      'int32',
    );
  for (const bad of [2, -1]) {
    it(`a mask value ${bad} → InvalidArgumentError naming the value and its position (lsh, local, full)`, () => {
      const m = mask(bad);
      const calls: [string, () => unknown][] = [
        ['lshAttention', () => lshAttention(qk, v, { chunkLength: 4, mask: m })],
        ['lshAttention', () => lshAttention(qk, v, { chunkLength: 16, mask: m })],
        ['localAttention', () => localAttention(qk, qk, v, { chunkLength: 4, mask: m })],
        ['fullAttention', () => fullAttention(qk, qk, v, { mask: m })],
      ];
      for (const [fn, call] of calls) {
        const e = expectFailFast(call, InvalidArgumentError);
        expect(e.message).toContain(`${fn}: mask must hold only 1 (real token) and 0 (padding), got ${bad} at [0, 5]`);
      }
      m.dispose();
    });
  }

  it('a 0/1 mask is accepted', () => {
    const m = tensor(
      Int32Array.from({ length: 16 }, (_, i) => (i < 12 ? 1 : 0)),
      [1, 16],
      'int32',
    );
    dispose([
      lshAttention(qk, v, { chunkLength: 4, mask: m }),
      localAttention(qk, qk, v, { chunkLength: 4, mask: m }),
      fullAttention(qk, qk, v, { mask: m }),
      m,
    ]);
  });
});

describe('replayed buckets', () => {
  const opts = { chunkLength: 4, nBuckets: 4, nHashes: 2 } as const;
  for (const bad of [999, -1]) {
    it(`a replayed bucket ${bad} → InvalidArgumentError naming its index and the valid range`, () => {
      const first = lshAttention(qk, v, { ...opts, seed: 7 });
      const values = first.buckets.dataSync().slice() as Int32Array;
      // [0, 1, 1, 2]: batch 0, head 1, round 1, position 2 — round 1's valid range is 4..7.
      values[(1 * 2 + 1) * 16 + 2] = bad;
      const buckets = tensor(values, first.buckets.shape, 'int32');
      const e = expectFailFast(() => lshAttention(qk, v, { ...opts, buckets }), InvalidArgumentError);
      expect(e.message).toContain(`buckets[0, 1, 1, 2] = ${bad} is out of range: round 1 of replayed buckets must lie in 4..7`);
      dispose([first, buckets]);
    });
  }

  it('with a padding mask the padding bucket is in range, one past it is not', () => {
    const m = tensor(
      Int32Array.from({ length: 16 }, (_, i) => (i < 14 ? 1 : 0)),
      [1, 16],
      'int32',
    );
    const first = lshAttention(qk, v, { ...opts, mask: m, seed: 8 });
    const values = first.buckets.dataSync().slice() as Int32Array;
    // Round strides are nBuckets + 1 = 5 with padding; position 15 of round 0 holds the padding bucket 4.
    expect(values[15]).toBe(4);
    const ok = lshAttention(qk, v, { ...opts, mask: m, buckets: tensor(values, first.buckets.shape, 'int32') });
    values[0] = 5;
    const bad = tensor(values, first.buckets.shape, 'int32');
    expect(expectFailFast(() => lshAttention(qk, v, { ...opts, mask: m, buckets: bad }), InvalidArgumentError).message).toMatch(
      /must lie in 0\.\.4/,
    );
    dispose([m, first, ok, bad]);
  });
});
