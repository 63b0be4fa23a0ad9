import { describe, expect, it } from 'vitest';
import { ReplayRecord, dispose, memory, randomNormal, tidy } from '@reformer/core';
import { lshAttention } from '../src/index.js';

const opts = { chunkLength: 8, nHashes: 2, nBuckets: 4, causal: true } as const;

describe('lshAttention under ReplayRecord', () => {
  it('replays the recorded buckets instead of hashing again', async () => {
    const qk = randomNormal([1, 2, 32, 8], { seed: 1 });
    const v = randomNormal([1, 2, 32, 8], { seed: 2 });
    const rec = new ReplayRecord();
    const recorded = rec.record(() => lshAttention(qk, v, { ...opts, seed: 10 }));
    // Another seed outside a replay hashes differently…
    const fresh = lshAttention(qk, v, { ...opts, seed: 11 });
    // …but inside the replay the recorded buckets come back, whatever the seed.
    const replayed = rec.replay(() => lshAttention(qk, v, { ...opts, seed: 11 }));
    const [r, f, p] = await Promise.all([recorded.buckets.data(), fresh.buckets.data(), replayed.buckets.data()]);
    expect(Array.from(f)).not.toEqual(Array.from(r));
    expect(Array.from(p)).toEqual(Array.from(r));
    expect(Array.from(await replayed.output.data())).toEqual(Array.from(await recorded.output.data()));
    dispose([qk, v, recorded, fresh, replayed]);
    rec.dispose();
  });

  it('leaves no tensor behind once the record is disposed', () => {
    const base = memory().liveTensors;
    const rec = new ReplayRecord();
    tidy(() => {
      const qk = randomNormal([1, 1, 24, 4], { seed: 3 });
      rec.record(() => lshAttention(qk, qk, { ...opts, seed: 1 }));
      rec.replay(() => lshAttention(qk, qk, opts));
    });
    expect(rec.size).toBe(1);
    rec.dispose();
    expect(memory().liveTensors).toBe(base);
  });
});
