/**
 * Properties of lshAttention: with a chunk (or window) covering the whole sequence it is dense
 * attention with the self-exclusion rule; causality; padding invariance; internal padding equals
 * explicit padding with a mask; determinism for a seed; bucket replay; 'auto' buckets; a float32
 * finite-difference gradient check; no leaked tensors.
 */
import { describe, expect, it } from 'vitest';
import { dispose, gradients, keep, memory, mul, randomNormal, seedScope, sum, tensor, type Tensor } from '@reformer/core';
import { chooseNumBuckets } from '../src/hash.js';
import { lshAttention, type LSHAttentionOptions } from '../src/lsh-attention.js';
import { Rng, compare, referenceDense } from './brute-force.js';

const rng = new Rng(99);

function up(values: Float64Array, shape: number[]): Tensor {
  return tensor(Float32Array.from(values), shape);
}

async function host(t: Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

/** Dense attention with the LSH rules: keys RMS-normalised / √d, self −1e5, causal / padding −1e9. */
function denseLSH(
  qk: Float64Array,
  v: Float64Array,
  B: number,
  H: number,
  L: number,
  d: number,
  dv: number,
  causal: boolean,
  mask?: Int32Array,
) {
  const k = new Float64Array(qk.length);
  for (let r = 0; r < qk.length / d; r++) {
    let ms = 0;
    for (let e = 0; e < d; e++) ms += qk[r * d + e]! ** 2 / d;
    for (let e = 0; e < d; e++) k[r * d + e] = qk[r * d + e]! / Math.sqrt(ms + 1e-6) / Math.sqrt(d);
  }
  return referenceDense(
    { B, H, L, d, dv, q: qk, k, v },
    { scale: 1, excludeSelf: true, allowed: (b, i, j) => !(causal && j > i) && (!mask || mask[b * L + j] !== 0) },
  ).out;
}

function realIndex(B: number, H: number, L: number, dv: number, keep: (b: number, t: number) => boolean): number[] {
  const idx: number[] = [];
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < L; t++) if (keep(b, t)) for (let e = 0; e < dv; e++) idx.push(((b * H + h) * L + t) * dv + e);
  return idx;
}

describe('lshAttention with a chunk or window covering the sequence equals dense attention (self excluded)', () => {
  it.each([
    [false, 1, false],
    [true, 3, false],
    [false, 2, true],
    [true, 4, true],
  ])('no-hash path (length <= chunkLength): causal %s, nHashes %i, mask %s', async (causal, nHashes, withMask) => {
    const [B, H, L, d, dv] = [2, 2, 7, 5, 3];
    const qk = rng.normals(B * H * L * d);
    const v = rng.normals(B * H * L * dv);
    const mask = withMask ? Int32Array.from({ length: B * L }, (_, i) => (i % L < L - 2 ? 1 : 0)) : undefined;
    const want = denseLSH(qk, v, B, H, L, d, dv, causal, mask);
    const maskT = mask ? tensor(mask, [B, L], 'int32') : undefined;
    const r = lshAttention(up(qk, [B, H, L, d]), up(v, [B, H, L, dv]), {
      chunkLength: 8,
      nHashes,
      causal,
      ...(maskT ? { mask: maskT } : {}),
      inspect: true,
    });
    const idx = realIndex(B, H, L, dv, (b, t) => !mask || mask[b * L + t] !== 0);
    const got = await host(r.output);
    const cmp = compare(
      idx.map((i) => got[i]!),
      idx.map((i) => want[i]!),
      1e-5,
      1e-4,
    );
    expect(cmp.excess, `max abs ${cmp.maxAbs}`).toBeLessThanOrEqual(0);
    expect(r.buckets.shape).toEqual([B, H, nHashes, L]);
    expect((await host(r.buckets)).every((x) => x === 0)).toBe(true);
    expect(r.lse!.shape).toEqual([B, H, 1, L]);
    expect(r.sortIndices!.shape).toEqual([B, H, L]);
  });

  it.each([
    // [nBuckets, nHashes, chunkLength, length, chunksBefore, chunksAfter, dedupe]
    [2, 1, 4, 16, 3, 0, false],
    [8, 2, 4, 12, 2, 3, false],
    [[2, 4], 3, 6, 12, 5, 0, false],
    [4, 4, 8, 16, 3, 4, false],
    [16, 2, 4, 12, 5, 0, true],
    [[2, 2], 3, 4, 8, 2, 3, true],
  ] as const)(
    'window covering every slot: nBuckets %j, nHashes %i, chunk %i, length %i, before %i, after %i, dedupe %s',
    async (nBuckets, nHashes, c, L, before, after, dedupe) => {
      expect(before + 1 + after).toBe((nHashes * L) / c); // the window is every chunk exactly once
      const [B, H, d, dv] = [1, 2, 6, 4];
      for (const causal of [false, true]) {
        const qk = rng.normals(B * H * L * d);
        const v = rng.normals(B * H * L * dv);
        const want = denseLSH(qk, v, B, H, L, d, dv, causal);
        const r = lshAttention(up(qk, [B, H, L, d]), up(v, [B, H, L, dv]), {
          chunkLength: c,
          nHashes,
          nBuckets: typeof nBuckets === 'number' ? nBuckets : [...nBuckets],
          chunksBefore: before,
          chunksAfter: after,
          causal,
          dedupe,
          seed: 5,
        });
        const got = await host(r.output);
        // Position 0 of a causal run attends to nothing but copies of itself: its float32 logsumexp
        // at −1e5 is rounded (docs/attention-semantics.md §6), so the copies' weights sum to 1 only
        // within ~1%.
        const idx = realIndex(B, H, L, dv, (_b, t) => !causal || t > 0);
        const cmp = compare(
          idx.map((i) => got[i]!),
          idx.map((i) => want[i]!),
          1e-5,
          1e-4,
        );
        expect(cmp.excess, `causal ${causal}: max abs ${cmp.maxAbs}`).toBeLessThanOrEqual(0);
        if (causal) {
          const first = realIndex(B, H, L, dv, (_b, t) => t === 0);
          const loose = compare(
            first.map((i) => got[i]!),
            first.map((i) => want[i]!),
            1e-6,
            2e-2,
          );
          expect(loose.excess).toBeLessThanOrEqual(0);
        }
      }
    },
  );
});

describe('lshAttention properties', () => {
  const base = (extra: Partial<LSHAttentionOptions> = {}): LSHAttentionOptions => ({
    chunkLength: 4,
    nHashes: 3,
    nBuckets: 4,
    chunksBefore: 1,
    chunksAfter: 0,
    causal: true,
    seed: 11,
    ...extra,
  });
  const [B, H, L, d, dv] = [2, 2, 22, 6, 5];

  it('is causal: changing future values never changes past outputs; with replayed buckets, neither do future keys', async () => {
    const qk = rng.normals(B * H * L * d);
    const v = rng.normals(B * H * L * dv);
    const cut = 9; // positions > cut change
    const r0 = lshAttention(up(qk, [B, H, L, d]), up(v, [B, H, L, dv]), base());
    const past = realIndex(B, H, L, dv, (_b, t) => t <= cut);
    const out0 = await host(r0.output);
    const v2 = Float64Array.from(v);
    const qk2 = Float64Array.from(qk);
    for (let bh = 0; bh < B * H; bh++)
      for (let t = cut + 1; t < L; t++) {
        for (let e = 0; e < dv; e++) v2[(bh * L + t) * dv + e] = 10 * rng.normal();
        for (let e = 0; e < d; e++) qk2[(bh * L + t) * d + e] = 10 * rng.normal();
      }
    const r1 = lshAttention(up(qk, [B, H, L, d]), up(v2, [B, H, L, dv]), base());
    const out1 = await host(r1.output);
    expect(past.map((i) => out1[i])).toEqual(past.map((i) => out0[i]));
    const future = realIndex(B, H, L, dv, (_b, t) => t > cut);
    expect(future.some((i) => out1[i] !== out0[i])).toBe(true); // the change is visible downstream
    const r2 = lshAttention(up(qk2, [B, H, L, d]), up(v2, [B, H, L, dv]), base({ buckets: r0.buckets }));
    const out2 = await host(r2.output);
    expect(past.map((i) => out2[i])).toEqual(past.map((i) => out0[i]));
  });

  it('is invariant to padded content: real outputs and gradients do not depend on masked positions', async () => {
    const mask = new Int32Array(B * L).fill(1);
    for (let t = 16; t < L; t++) mask[t] = 0; // batch 0: right padding
    mask[L + 3] = 0; // batch 1: one masked position inside
    mask[L + 20] = 0;
    const maskT = tensor(mask, [B, L], 'int32');
    const qk = rng.normals(B * H * L * d);
    const v = rng.normals(B * H * L * dv);
    const W = up(rng.normals(B * H * L * dv), [B, H, L, dv]);
    const real = realIndex(B, H, L, dv, (b, t) => mask[b * L + t] !== 0);
    const run = async (qkv: Float64Array, vv: Float64Array) => {
      const qkT = up(qkv, [B, H, L, d]);
      const vT = up(vv, [B, H, L, dv]);
      let out: Tensor | undefined;
      const { grads } = gradients(() => {
        const r = lshAttention(qkT, vT, base({ mask: maskT, causal: false, chunksAfter: 1 }));
        out = keep(r.output);
        // Objective over real positions only.
        return sum(
          mul(
            mul(r.output, W),
            tensor(
              Float32Array.from(
                real.reduce(
                  (m, i) => {
                    m[i] = 1;
                    return m;
                  },
                  new Array<number>(B * H * L * dv).fill(0),
                ),
              ),
              [B, H, L, dv],
            ),
          ),
        );
      }, [qkT, vT]);
      return { out: await host(out!), gqk: await host(grads[0]!), gv: await host(grads[1]!) };
    };
    const a = await run(qk, v);
    const qk2 = Float64Array.from(qk);
    const v2 = Float64Array.from(v);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++)
        for (let t = 0; t < L; t++)
          if (mask[b * L + t] === 0) {
            for (let e = 0; e < d; e++) qk2[((b * H + h) * L + t) * d + e] = 100 * rng.normal();
            for (let e = 0; e < dv; e++) v2[((b * H + h) * L + t) * dv + e] = 100 * rng.normal();
          }
    const b2 = await run(qk2, v2);
    expect(real.map((i) => b2.out[i])).toEqual(real.map((i) => a.out[i]));
    // Gradients with respect to padded inputs are exactly zero; those of real inputs unchanged.
    const padQK = realIndex(B, H, L, d, (b, t) => mask[b * L + t] === 0);
    const padV = realIndex(B, H, L, dv, (b, t) => mask[b * L + t] === 0);
    expect(padQK.every((i) => a.gqk[i] === 0) && padV.every((i) => a.gv[i] === 0)).toBe(true);
    expect(b2.gqk).toEqual(a.gqk);
    expect(b2.gv).toEqual(a.gv);
  });

  it('pads any length internally exactly like explicit padding with a mask', async () => {
    const Lr = 13;
    const Lx = 16; // the multiple of chunkLength 4 that lshAttention pads 13 to
    const qk = rng.normals(B * H * Lx * d);
    const v = rng.normals(B * H * Lx * dv);
    const cutRows = (x: Float64Array, n: number) => {
      const out = new Float64Array(B * H * Lr * n);
      for (let bh = 0; bh < B * H; bh++) out.set(x.subarray(bh * Lx * n, (bh * Lx + Lr) * n), bh * Lr * n);
      return out;
    };
    for (const causal of [false, true]) {
      const opts = base({ causal, chunksAfter: 1, inspect: true });
      const short = lshAttention(up(cutRows(qk, d), [B, H, Lr, d]), up(cutRows(v, dv), [B, H, Lr, dv]), opts);
      const mask = tensor(
        Int32Array.from({ length: B * Lx }, (_, i) => (i % Lx < Lr ? 1 : 0)),
        [B, Lx],
        'int32',
      );
      const long = lshAttention(up(qk, [B, H, Lx, d]), up(v, [B, H, Lx, dv]), { ...opts, mask });
      const longOut = await host(long.output);
      const want = realIndex(B, H, Lx, dv, (_b, t) => t < Lr).map((i) => longOut[i]!);
      expect(await host(short.output)).toEqual(want);
      // Same buckets up to the round stride (no mask: r·4; with a mask: r·5, Hugging Face's convention).
      const sb = await host(short.buckets);
      const lb = await host(long.buckets);
      const within = (x: number, stride: number) => x % stride;
      const longCut = realIndex(B, H * 3, Lx, 1, (_b, t) => t < Lr).map((i) => within(lb[i]!, 5));
      expect(sb.map((x) => within(x, 4))).toEqual(longCut);
    }
  });

  it('is deterministic for a seed, changes with the seed, and replays its buckets', async () => {
    const qkT = randomNormal([B, H, L, d], { seed: 3 });
    const vT = randomNormal([B, H, L, dv], { seed: 4 });
    const a = lshAttention(qkT, vT, base({ seed: 21 }));
    const b = lshAttention(qkT, vT, base({ seed: 21 }));
    const c = lshAttention(qkT, vT, base({ seed: 22 }));
    expect(await host(a.output)).toEqual(await host(b.output));
    expect(await host(a.buckets)).toEqual(await host(b.buckets));
    expect(await host(a.buckets)).not.toEqual(await host(c.buckets));
    // Without a seed: the core seed stream, replayable with seedScope.
    const s1 = seedScope(77, () => lshAttention(qkT, vT, base({ seed: undefined })));
    const s2 = seedScope(77, () => lshAttention(qkT, vT, base({ seed: undefined })));
    expect(await host(s1.output)).toEqual(await host(s2.output));
    // Replay: the buckets of the first call reproduce output and gradients without rotations.
    const W = randomNormal([B, H, L, dv], { seed: 5 });
    const objective = (opts: LSHAttentionOptions) => gradients(() => sum(mul(lshAttention(qkT, vT, opts).output, W)), [qkT, vT]);
    const g1 = objective(base({ seed: 21 }));
    const g2 = objective(base({ seed: 999, buckets: a.buckets }));
    expect(await host(g2.value)).toEqual(await host(g1.value));
    expect(await host(g2.grads[0]!)).toEqual(await host(g1.grads[0]!));
    expect(await host(g2.grads[1]!)).toEqual(await host(g1.grads[1]!));
    // Replay with a padding mask (buckets in Hugging Face's masked convention, stride nBuckets + 1).
    const mask = tensor(
      Int32Array.from({ length: B * L }, (_, i) => (i % L < L - 3 || i % 5 === 0 ? 1 : 0)),
      [B, L],
      'int32',
    );
    const m1 = lshAttention(qkT, vT, base({ seed: 21, mask, causal: false, chunksAfter: 1 }));
    const m2 = lshAttention(qkT, vT, base({ seed: 1234, mask, causal: false, chunksAfter: 1, buckets: m1.buckets }));
    expect(await host(m2.output)).toEqual(await host(m1.output));
    expect(await host(m2.buckets)).toEqual(await host(m1.buckets));
    dispose([qkT, vT, a, b, c, s1, s2, W, g1, g2, mask, m1, m2]);
  });

  it("uses Hugging Face's 'auto' bucket count by default", async () => {
    const [Lb, c] = [64, 8];
    const qkT = randomNormal([1, 1, Lb, 4], { seed: 8 });
    const vT = randomNormal([1, 1, Lb, 3], { seed: 9 });
    expect(chooseNumBuckets(Lb, c)).toBe(16);
    const auto = lshAttention(qkT, vT, { chunkLength: c, nHashes: 2, seed: 1 });
    const explicit = lshAttention(qkT, vT, { chunkLength: c, nHashes: 2, nBuckets: 16, seed: 1 });
    const ab = await host(auto.buckets);
    expect(ab).toEqual(await host(explicit.buckets));
    expect(ab.slice(0, Lb).every((x) => x >= 0 && x < 16) && ab.slice(Lb).every((x) => x >= 16 && x < 32)).toBe(true);
    // Chunk 2: 2^6 = 64 buckets exceed 2·max(⌊√(64/2)⌋, 2) = 10 for maxPositionEmbeddings 64 → [8, 8].
    expect(chooseNumBuckets(Lb, 2, 64)).toEqual([8, 8]);
    const fact = lshAttention(qkT, vT, { chunkLength: 2, nHashes: 2, maxPositionEmbeddings: 64, seed: 1 });
    const factExplicit = lshAttention(qkT, vT, { chunkLength: 2, nHashes: 2, nBuckets: [8, 8], seed: 1 });
    const fb = await host(fact.buckets);
    expect(fb).toEqual(await host(factExplicit.buckets));
    expect(await host(fact.output)).toEqual(await host(factExplicit.output));
    expect(Math.max(...fb.slice(0, Lb))).toBeGreaterThan(16);
    dispose([qkT, vT, auto, explicit, fact, factExplicit]);
  });

  it('passes a float32 finite-difference gradient check (random direction, replayed buckets)', async () => {
    const qkT = randomNormal([1, 2, 18, 4], { seed: 31 });
    const vT = randomNormal([1, 2, 18, 3], { seed: 32 });
    const W = randomNormal([1, 2, 18, 3], { seed: 33 });
    const opts = base({ nHashes: 2, chunkLength: 3, chunksAfter: 1 });
    const first = lshAttention(qkT, vT, opts);
    const replay = { ...opts, buckets: first.buckets };
    const f = (a: Tensor, b: Tensor) => sum(mul(lshAttention(a, b, replay).output, W));
    const { value, grads } = gradients(() => f(qkT, vT), [qkT, vT]);
    const dq = randomNormal(qkT.shape, { seed: 34 });
    const dvT = randomNormal(vT.shape, { seed: 35 });
    const eps = 1e-2;
    const shifted = async (s: number) => {
      const a = tensor(
        Float32Array.from(await qkT.data(), (x, i) => x + s * (dqH[i] ?? 0)),
        qkT.shape,
      );
      const b = tensor(
        Float32Array.from(await vT.data(), (x, i) => x + s * (dvH[i] ?? 0)),
        vT.shape,
      );
      const y = await f(a, b).item();
      dispose([a, b]);
      return y;
    };
    const dqH = await dq.data();
    const dvH = await dvT.data();
    const numeric = ((await shifted(eps)) - (await shifted(-eps))) / (2 * eps);
    const gq = await grads[0]!.data();
    const gv = await grads[1]!.data();
    let analytic = 0;
    for (let i = 0; i < gq.length; i++) analytic += gq[i]! * dqH[i]!;
    for (let i = 0; i < gv.length; i++) analytic += gv[i]! * dvH[i]!;
    expect(Math.abs(numeric - analytic)).toBeLessThan(2e-3 * Math.max(1, Math.abs(analytic)));
    dispose([qkT, vT, W, first, value, grads, dq, dvT]);
  });

  it('leaks no tensors (forward, inspect, dedupe, backward)', () => {
    const qkT = randomNormal([1, 2, 10, 4], { seed: 41 });
    const vT = randomNormal([1, 2, 10, 3], { seed: 42 });
    const mask = tensor(Int32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 0, 0]), [1, 10], 'int32');
    const live = memory().liveTensors;
    for (const dedupe of [false, true]) {
      const r = lshAttention(qkT, vT, base({ dedupe, mask, inspect: true, sameBucketOnly: dedupe }));
      dispose(r);
      const g = gradients(() => sum(lshAttention(qkT, vT, base({ dedupe, mask })).output), [qkT, vT]);
      dispose(g);
    }
    expect(memory().liveTensors).toBe(live);
    dispose([qkT, vT, mask]);
  });
});
