/**
 * hashVectors against a brute-force host hash (integer and factorised bucket counts, both rotation
 * layouts), first-maximum tie breaking, round offsets, seeded rotations, and Hugging Face's 'auto'
 * bucket count.
 */
import { describe, expect, it } from 'vitest';
import { concat, createCpuBackend, dispose, memory, randomNormal, seedScope, split, tensor, type Tensor } from '@reformer/core';
import { chooseNumBuckets, hashRoundsAtOnce, hashVectors, hashWithinRound } from '../src/hash.js';
import { Rng } from './brute-force.js';

/** Buckets by brute force: [B, H, nR, L] with round offsets r·Π factors. */
function hostHash(x: Float64Array, B: number, H: number, L: number, d: number, rot: Float64Array, nR: number, factors: number[]): number[] {
  const total = factors.reduce((a, f) => a + f / 2, 0);
  const nb = factors.reduce((a, f) => a * f, 1);
  const out: number[] = [];
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let r = 0; r < nR; r++)
        for (let t = 0; t < L; t++) {
          let bucket = 0;
          let radix = 1;
          let col = 0;
          for (const f of factors) {
            const vals: number[] = [];
            for (let i = 0; i < f / 2; i++) {
              let s = 0;
              for (let e = 0; e < d; e++) s += x[((b * H + h) * L + t) * d + e]! * rot[((h * d + e) * nR + r) * total + col + i]!;
              vals.push(s);
            }
            const both = [...vals, ...vals.map((z) => -z)];
            bucket += radix * both.indexOf(Math.max(...both));
            radix *= f;
            col += f / 2;
          }
          out.push(bucket + r * nb);
        }
  return out;
}

describe('hashVectors', () => {
  const rng = new Rng(7);
  it.each([
    [[8], 1],
    [[4], 3],
    [[2], 2],
    [[2, 4], 2],
    [[4, 2, 6], 3],
  ] as const)('equals a brute-force hash for nBuckets %j and %i rounds', async (factors, nR) => {
    const [B, H, L, d] = [2, 3, 11, 5];
    const total = factors.reduce((a, f) => a + f / 2, 0);
    const xs = rng.normals(B * H * L * d);
    const rs = rng.normals(H * d * nR * total);
    const x = tensor(Float32Array.from(xs), [B, H, L, d]);
    const rot = tensor(Float32Array.from(rs), [H, d, nR, total]);
    const nBuckets = factors.length === 1 ? factors[0]! : [...factors];
    const live = memory().liveTensors;
    const { buckets, rotations } = hashVectors(x, { nBuckets, nHashes: nR, rotations: rot });
    expect(rotations).toBe(rot);
    expect(buckets.dtype).toBe('int32');
    expect(buckets.shape).toEqual([B, H, nR, L]);
    const want = hostHash(xs, B, H, L, d, rs, nR, [...factors]);
    expect(Array.from(await buckets.data())).toEqual(want);
    buckets.dispose();
    expect(memory().liveTensors).toBe(live);
    if (factors.length > 1) {
      // One rotations tensor per factor gives the same buckets as the concatenated one.
      const parts = split(
        rot,
        factors.map((f) => f / 2),
        3,
      );
      const again = hashVectors(x, { nBuckets, nHashes: nR, rotations: parts });
      expect(Array.from(await again.buckets.data())).toEqual(want);
      dispose([parts, again.buckets]);
    }
    dispose([x, rot]);
  });

  it.each([[[6]], [[2, 4]]] as const)('projects any number of rounds per matmul with the same buckets (nBuckets %j)', async (factors) => {
    const [B, H, L, d, nR] = [2, 2, 9, 4, 5];
    const total = factors.reduce((a, f) => a + f / 2, 0);
    const nb = factors.reduce((a, f) => a * f, 1);
    const xs = rng.normals(B * H * L * d);
    const rs = rng.normals(H * d * nR * total);
    const x = tensor(Float32Array.from(xs), [B, H, L, d]);
    const rot = tensor(Float32Array.from(rs), [H, d, nR, total]);
    const want = hostHash(xs, B, H, L, d, rs, nR, [...factors]).map((b, i) => b - (Math.floor(i / L) % nR) * nb);
    // 2 leaves an uneven last group (2, 2, 1)
    for (const rounds of [1, 2, 3, nR]) {
      const got = hashWithinRound(x, factors, nR, [rot], rounds);
      expect(got.shape).toEqual([B, H, nR, L]);
      expect(Array.from(await got.data()), `${rounds} rounds at once`).toEqual(want);
      got.dispose();
    }
    dispose([x, rot]);
  });

  it('hashes as many rounds at once as the budget and the allocation bound allow', () => {
    const s = { batch: 1, groupHeads: 2, length: 1024, nHashes: 8, factors: [32] };
    const oneRound = 2 * 1024 * 32 * 4; // bytes of one round's scores [1, 2, 1024, 32]
    expect(hashRoundsAtOnce(s, createCpuBackend(), 3 * oneRound)).toBe(3);
    expect(hashRoundsAtOnce(s, createCpuBackend(), oneRound - 1)).toBe(1);
    expect(hashRoundsAtOnce(s, createCpuBackend(), 100 * oneRound)).toBe(8);
    expect(hashRoundsAtOnce(s, createCpuBackend({ maxAllocationBytes: 2 * oneRound }), 100 * oneRound)).toBe(2);
  });

  it('breaks ties on the first maximum (argmax of [xR; −xR])', async () => {
    // Two identical rotation columns: rot = [a, a, −a, −a]. a > 0 → bucket 0; a < 0 → bucket 2; a = 0 → 0.
    const x = tensor([
      [
        [
          [1, 0],
          [-1, 0],
          [0, 0],
        ],
      ],
    ]);
    const rot = tensor(Float32Array.from([1, 1, 0, 0]), [1, 2, 1, 2]);
    const { buckets } = hashVectors(x, { nBuckets: 4, nHashes: 1, rotations: rot });
    expect(Array.from(await buckets.data())).toEqual([0, 2, 0]);
    dispose([x, rot, buckets]);
  });

  it('draws rotations from the seed: same seed same buckets, per-factor tensors that concatenate to one draw', async () => {
    const x = randomNormal([1, 2, 16, 4], { seed: 1 });
    const a = hashVectors(x, { nBuckets: [2, 4], nHashes: 3, seed: 42 });
    const b = hashVectors(x, { nBuckets: [2, 4], nHashes: 3, seed: 42 });
    const c = hashVectors(x, { nBuckets: [2, 4], nHashes: 3, seed: 43 });
    expect(Array.isArray(a.rotations)).toBe(true);
    const parts = a.rotations as Tensor[];
    expect(parts.map((t) => t.shape)).toEqual([
      [2, 4, 3, 1],
      [2, 4, 3, 2],
    ]);
    const whole = randomNormal([2, 4, 3, 3], { seed: 42 });
    const joined = concat(parts, 3);
    expect(Array.from(await joined.data())).toEqual(Array.from(await whole.data()));
    expect(Array.from(await a.buckets.data())).toEqual(Array.from(await b.buckets.data()));
    expect(Array.from(await a.buckets.data())).not.toEqual(Array.from(await c.buckets.data()));
    // Without a seed: the seed stream (replayable with seedScope).
    const s1 = seedScope(9, () => hashVectors(x, { nBuckets: 8, nHashes: 2 }));
    const s2 = seedScope(9, () => hashVectors(x, { nBuckets: 8, nHashes: 2 }));
    expect((s1.rotations as Tensor).shape).toEqual([2, 4, 2, 4]);
    expect(Array.from(await s1.buckets.data())).toEqual(Array.from(await s2.buckets.data()));
    dispose([x, a, b, c, whole, joined, s1, s2]);
  });
});

describe('chooseNumBuckets (Hugging Face num_buckets = None)', () => {
  it.each([
    [64, 8, 4096, 16],
    [100, 8, 4096, 16],
    [9, 8, 4096, 2],
    [4096, 64, 4096, 128],
    [8192, 64, 4096, [16, 16]],
    [65536, 64, 65536, [32, 64]],
    [65536, 64, undefined, [32, 64]],
    [2048, 8, 4096, [16, 32]],
  ] as const)('length %i, chunk %i, maxPositionEmbeddings %s → %j', (length, chunk, maxPos, want) => {
    expect(chooseNumBuckets(length, chunk, maxPos)).toEqual(want);
  });
});
