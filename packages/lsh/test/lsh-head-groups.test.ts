/**
 * lshAttention attends long sequences a group of heads at a time (`maxGroupBytes`): the results must
 * not depend on the grouping, and the working set must shrink with it.
 */
import { describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  dispose,
  gradients,
  keep,
  memory,
  mul,
  randomNormal,
  resetPeak,
  slice,
  sum,
  tensor,
  tidy,
  type Tensor,
} from '@reformer/core';
import { lshAttention, lshHeadGroup, type LSHAttentionOptions, type LSHAttentionResult } from '../src/index.js';

const B = 2;
const H = 5;
const L = 45; // not a multiple of the chunk: padded internally
const d = 8;

/** One head's bytes of sorted copy at these sizes: B · nHashes · Lp · d float32. */
const perHead = (nHashes: number, c: number) => B * nHashes * Math.ceil(L / c) * c * d * 4;

async function values(r: LSHAttentionResult): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const key of ['output', 'buckets', 'lse', 'sortIndices'] as const) {
    const t = r[key];
    if (t !== undefined) out[key] = Array.from(await t.data());
  }
  return out;
}

const cases: { name: string; options: Omit<LSHAttentionOptions, 'maxGroupBytes'> }[] = [
  { name: 'causal, drawn rotations', options: { chunkLength: 4, nHashes: 3, nBuckets: 8, causal: true, seed: 7 } },
  {
    name: 'factorised buckets, two chunks before and one after',
    options: { chunkLength: 5, nHashes: 2, nBuckets: [4, 6], chunksBefore: 2, chunksAfter: 1, seed: 3 },
  },
  { name: 'auto buckets, same bucket only', options: { chunkLength: 4, nHashes: 2, sameBucketOnly: true, seed: 11 } },
  { name: 'dedupe', options: { chunkLength: 4, nHashes: 2, nBuckets: 4, dedupe: true, causal: true, seed: 5 } },
];

describe('lshAttention by groups of heads', () => {
  it.each(cases)('gives bit-identical outputs, buckets, lse and sort for every group size ($name)', async ({ options }) => {
    const qk = randomNormal([B, H, L, d], { seed: 1 });
    const v = randomNormal([B, H, L, d], { seed: 2 });
    const mask = tensor(
      Array.from({ length: B * L }, (_, i) => (i % L < L - 3 * (Math.floor(i / L) + 1) ? 1 : 0)),
      [B, L],
      'int32',
    );
    const nHashes = options.nHashes ?? 1;
    const c = options.chunkLength;
    const all = lshAttention(qk, v, { ...options, mask, inspect: true, maxGroupBytes: 1e15 });
    const expected = await values(all);
    for (const heads of [1, 2, 3]) {
      const opts = { ...options, mask, inspect: true, maxGroupBytes: heads * perHead(nHashes, c) };
      expect(
        lshHeadGroup({
          batch: B,
          heads: H,
          length: L,
          dHead: d,
          nHashes,
          nBuckets: 4,
          chunkLength: c,
          chunksBefore: 1,
          chunksAfter: 0,
          maxGroupBytes: opts.maxGroupBytes,
        }),
      ).toBe(heads);
      const grouped = lshAttention(qk, v, opts);
      expect(await values(grouped)).toEqual(expected);
      // Replaying the buckets of the whole call by groups gives the same output too.
      const replayed = lshAttention(qk, v, { ...opts, seed: undefined, buckets: all.buckets });
      expect(Array.from(await replayed.output.data())).toEqual(expected.output);
      dispose([grouped, replayed]);
    }
    // A target below one round's hash scores: one head and one hash round at a time, same results.
    const smallest = lshAttention(qk, v, { ...options, mask, inspect: true, maxGroupBytes: 1 });
    expect(await values(smallest)).toEqual(expected);
    dispose([qk, v, mask, all, smallest]);
  });

  it('matches separate calls on each head with that head of the rotations', async () => {
    const nHashes = 2;
    const qk = randomNormal([1, 3, 40, d], { seed: 4 });
    const v = randomNormal([1, 3, 40, d], { seed: 5 });
    const rotations = randomNormal([3, d, nHashes, 4], { seed: 6 });
    const opts = { chunkLength: 8, nHashes, nBuckets: 8, causal: true } as const;
    const grouped = lshAttention(qk, v, { ...opts, rotations, maxGroupBytes: 1 });
    const out = await grouped.output.data();
    for (let h = 0; h < 3; h++) {
      const one = tidy(() => {
        const pick = (t: Tensor) => slice(t, [0, h, 0, 0], [t.shape[0]!, 1, t.shape[2]!, t.shape[3]!]);
        const R = slice(rotations, [h, 0, 0, 0], [1, d, nHashes, 4]);
        return lshAttention(pick(qk), pick(v), { ...opts, rotations: R }).output;
      });
      expect(Array.from(out.subarray(h * 40 * d, (h + 1) * 40 * d))).toEqual(Array.from(await one.data()));
      one.dispose();
    }
    dispose([qk, v, rotations, grouped]);
  });

  it('gives bit-identical gradients by groups', async () => {
    const qk = randomNormal([1, 4, 36, d], { seed: 8 });
    const v = randomNormal([1, 4, 36, d], { seed: 9 });
    const w = randomNormal([1, 4, 36, d], { seed: 10 });
    const opts = { chunkLength: 6, nHashes: 2, nBuckets: 6, causal: true, seed: 12 } as const;
    const grads = (maxGroupBytes: number) =>
      tidy(() => {
        const { grads: g } = gradients(() => sum(mul(lshAttention(qk, v, { ...opts, maxGroupBytes }).output, w)), [qk, v]);
        return g.map((t) => keep(t));
      });
    const whole = grads(1e15);
    const byOne = grads(1);
    for (let i = 0; i < 2; i++) expect(Array.from(await byOne[i]!.data())).toEqual(Array.from(await whole[i]!.data()));
    dispose([qk, v, w, ...whole, ...byOne]);
  });

  it('holds a smaller working set by groups, and nothing after', () => {
    const qk = randomNormal([1, 8, 512, 16], { seed: 13 });
    const v = randomNormal([1, 8, 512, 16], { seed: 14 });
    const opts = { chunkLength: 32, nHashes: 4, nBuckets: 16, causal: true, seed: 15 } as const;
    const peakOf = (maxGroupBytes: number) => {
      const live = memory().liveBytes;
      resetPeak();
      tidy(() => lshAttention(qk, v, { ...opts, maxGroupBytes }).output).dispose();
      expect(memory().liveBytes).toBe(live);
      return memory().peakBytes - live;
    };
    const whole = peakOf(1e15);
    const byOne = peakOf(1);
    // One head of eight at a time: its sorted copies and scores are an eighth; what remains is the
    // inputs' slices and the joined output.
    expect(byOne).toBeLessThan(whole / 2);
    dispose([qk, v]);
  });

  it('attends all heads at once with dropout (its mask is keyed by head index)', () => {
    const s = { batch: 1, heads: 8, length: 4096, dHead: 64, nHashes: 4, nBuckets: 64, chunkLength: 64, chunksBefore: 1, chunksAfter: 0 };
    expect(lshHeadGroup({ ...s, maxGroupBytes: 4 * 4096 * 64 * 4 })).toBe(1);
    expect(lshHeadGroup({ ...s, maxGroupBytes: 4 * 4096 * 64 * 4, dropout: true })).toBe(8);
    expect(lshHeadGroup(s)).toBe(8); // 4 MiB a head: the default 64 MiB holds them all
  });

  it('rejects a maxGroupBytes that is not a positive finite number', () => {
    const qk = randomNormal([1, 2, 16, 4], { seed: 1 });
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => lshAttention(qk, qk, { chunkLength: 4, nBuckets: 4, maxGroupBytes: bad })).toThrow(InvalidArgumentError);
      expect(() => lshAttention(qk, qk, { chunkLength: 4, nBuckets: 4, maxGroupBytes: bad })).toThrow(
        /maxGroupBytes must be a number in \(0, /,
      );
    }
    qk.dispose();
  });
});
