import { describe, expect, it } from 'vitest';
import {
  DTypeError,
  InvalidArgumentError,
  ShapeMismatchError,
  clone,
  gradients,
  memory,
  seedScope,
  sum,
  tensor,
  zeros,
  type Tensor,
} from '@reformer/core';
import {
  FullSelfAttention,
  LSHSelfAttention,
  LocalSelfAttention,
  type AttentionLayer,
  type AttentionLayerConfig,
} from '../src/layers/index.js';
import { windowedAttentionWithDropout } from '../src/layers/dropout-attention.js';
import { fullAttention, localAttention } from '../src/index.js';

function hostRandom(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * Largest difference over the rows of real (unmasked) queries only: a padded query may have no
 * allowed key at all, and its output is then meaningless (it differs between implementations).
 * `a`, `b` are `[batch, (heads,) length, size]` flattened; `real(batch, position)`.
 */
function maxDiffReal(a: ArrayLike<number>, b: ArrayLike<number>, shape: number[], real: (batch: number, pos: number) => boolean): number {
  expect(a.length).toBe(b.length);
  const size = shape[shape.length - 1]!;
  const length = shape[shape.length - 2]!;
  const perBatch = a.length / shape[0]!;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (!real(Math.floor(i / perBatch), Math.floor(i / size) % length)) continue;
    m = Math.max(m, Math.abs(a[i]! - b[i]!));
  }
  return m;
}

/** Runs `f` and returns the host values of its result (disposing it). */
async function values(f: () => Tensor): Promise<Float32Array> {
  const t = f();
  const d = (await t.data()) as Float32Array;
  t.dispose();
  return d;
}

const CONFIG: AttentionLayerConfig = { hiddenSize: 16, numHeads: 2, headSize: 8, chunkLength: 4, seed: 3 };
const B = 2;
const L = 16;
const X = hostRandom(B * L * 16, 1);

describe('LSHSelfAttention: hash rounds, buckets and their replay', () => {
  it('a per-call nHashes override changes the buckets shape (and the output); the next call is back to the default', async () => {
    const layer = new LSHSelfAttention({ ...CONFIG, nHashes: 2, nBuckets: 4, hashSeed: 5 });
    const x = tensor(X, [B, L, 16]);
    const y2 = await values(() => layer.forward(x));
    expect(layer.lastBuckets!.shape).toEqual([B, 2, 2, L]);
    expect(layer.lastBuckets!.dtype).toBe('int32');
    const y4 = await values(() => layer.forward(x, { nHashes: 4 }));
    expect(layer.lastBuckets!.shape).toEqual([B, 2, 4, L]);
    expect(maxDiff(y2, y4)).toBeGreaterThan(1e-4);
    // round r's buckets are offset by r · nBuckets
    const b = await layer.lastBuckets!.data();
    for (let i = 0; i < b.length; i++) {
      const round = Math.floor(i / L) % 4;
      expect(b[i]! >= round * 4 && b[i]! < (round + 1) * 4).toBe(true);
    }
    await values(() => layer.forward(x));
    expect(layer.lastBuckets!.shape).toEqual([B, 2, 2, L]);
    x.dispose();
    layer.dispose();
  });

  it('fresh rotations per call without hashSeed; the same rotations every call with it', async () => {
    const x = tensor(X, [B, L, 16]);
    const fresh = new LSHSelfAttention({ ...CONFIG, nBuckets: 4 });
    const a = await values(() => fresh.forward(x));
    const ba = await fresh.lastBuckets!.data();
    const b = await values(() => fresh.forward(x));
    expect(maxDiff(a, b)).toBeGreaterThan(1e-4);
    expect(Array.from(await fresh.lastBuckets!.data())).not.toEqual(Array.from(ba));
    const fixed = new LSHSelfAttention({ ...CONFIG, nBuckets: 4, hashSeed: 17 });
    expect(await values(() => fixed.forward(x))).toEqual(await values(() => fixed.forward(x)));
    x.dispose();
    fresh.dispose();
    fixed.dispose();
  });

  it('replaying lastBuckets gives the identical output and gradients (the reversible-layer hook)', async () => {
    const layer = new LSHSelfAttention({ ...CONFIG, nHashes: 3, nBuckets: [2, 4], causal: true });
    const x = tensor(X, [B, L, 16]);
    const first = gradients(() => sum(layer.forward(x)), [x, ...layer.parameters()]);
    const saved = clone(layer.lastBuckets!);
    const other = await values(() => layer.forward(x)); // new rotations: different buckets and output
    const replayed = gradients(() => sum(layer.forward(x, { buckets: saved })), [x, ...layer.parameters()]);
    expect(await replayed.value.item()).toBe(await first.value.item());
    for (let i = 0; i < first.grads.length; i++) {
      expect(await replayed.grads[i]!.data()).toEqual(await first.grads[i]!.data());
    }
    expect(Math.abs((await first.value.item()) - other.reduce((s, v) => s + v, 0))).toBeGreaterThan(1e-4);
    // lastBuckets now holds the replayed buckets; passing lastBuckets itself back works too.
    expect(Array.from(await layer.lastBuckets!.data())).toEqual(Array.from(await saved.data()));
    const again = await values(() => layer.forward(x, { buckets: layer.lastBuckets! }));
    expect(again.reduce((s, v) => s + v, 0)).toBeCloseTo(await first.value.item(), 3);
    for (const t of [first.value, ...first.grads, replayed.value, ...replayed.grads, saved, x]) t.dispose();
    layer.dispose();
  });

  it('lastBuckets is owned by the layer: one tensor, replaced on each call, freed by dispose()', async () => {
    const layer = new LSHSelfAttention({ ...CONFIG, nBuckets: 4 });
    const x = tensor(X, [B, L, 16]);
    const before = memory().liveTensors;
    layer.forward(x).dispose();
    const first = layer.lastBuckets!;
    layer.forward(x).dispose();
    expect(first.isDisposed).toBe(true);
    expect(memory().liveTensors - before).toBe(1);
    layer.dispose();
    expect(layer.lastBuckets).toBeNull();
    expect(memory().liveTensors - before).toBe(-3); // the buckets and the three weights
    x.dispose();
  });
});

describe('dropout and seed scopes', () => {
  it('LSH: output dropout replays under the same seedScope (with or without replayed buckets) and differs under another', async () => {
    const layer = new LSHSelfAttention({ ...CONFIG, nBuckets: 4, outputDropout: 0.3 });
    const x = tensor(X, [B, L, 16]);
    const a = await values(() => seedScope(42, () => layer.forward(x)));
    const buckets = clone(layer.lastBuckets!);
    const b = await values(() => seedScope(42, () => layer.forward(x)));
    expect(b).toEqual(a);
    const c = await values(() => seedScope(42, () => layer.forward(x, { buckets })));
    expect(c).toEqual(a);
    const d = await values(() => seedScope(43, () => layer.forward(x, { buckets })));
    expect(maxDiff(a, d)).toBeGreaterThan(1e-4);
    // about 30% of the outputs are dropped in training, none in eval
    expect(a.filter((v) => v === 0).length / a.length).toBeGreaterThan(0.2);
    expect(a.filter((v) => v === 0).length / a.length).toBeLessThan(0.4);
    layer.eval();
    const e = await values(() => layer.forward(x, { buckets }));
    expect(e.filter((v) => v === 0).length).toBe(0);
    for (const t of [x, buckets]) t.dispose();
    layer.dispose();
  });

  it('LSH: attention dropout runs in the fused kernel in training: replays, equals eval at a negligible rate, drops at 0.5, off in eval', async () => {
    const x = tensor(X, [B, L, 16]);
    const maskHost = Int32Array.from({ length: B * L }, (_, i) => (i % 7 === 5 ? 0 : 1));
    const mask = tensor(maskHost, [B, L], 'int32');
    const real = (batch: number, pos: number): boolean => maskHost[batch * L + pos] === 1;
    const tiny = new LSHSelfAttention({ ...CONFIG, nBuckets: 4, nHashes: 2, attentionDropout: 1e-9 });
    const trainTiny = await values(() => seedScope(1, () => tiny.train().forward(x, { mask })));
    const buckets = clone(tiny.lastBuckets!);
    const evalTiny = await values(() => tiny.eval().forward(x, { mask, buckets }));
    expect(maxDiffReal(trainTiny, evalTiny, [B, L, 16], real)).toBeLessThan(2e-5);
    const half = new LSHSelfAttention({ ...CONFIG, nBuckets: 4, nHashes: 2, attentionDropout: 0.5 });
    const a = await values(() => seedScope(2, () => half.forward(x, { mask, buckets })));
    const b = await values(() => seedScope(2, () => half.forward(x, { mask, buckets })));
    expect(b).toEqual(a);
    const other = await values(() => seedScope(3, () => half.forward(x, { mask, buckets })));
    expect(maxDiffReal(a, other, [B, L, 16], real)).toBeGreaterThan(1e-2);
    const evalHalf = await values(() => seedScope(2, () => half.eval().forward(x, { mask, buckets })));
    expect(maxDiffReal(a, evalHalf, [B, L, 16], real)).toBeGreaterThan(1e-2);
    half.train();
    const { grads } = gradients(() => sum(seedScope(2, () => half.forward(x, { mask, buckets }))), [x, ...half.parameters()]);
    for (const g of grads) expect((await g.data()).every((v) => Number.isFinite(v))).toBe(true);
    for (const t of [x, mask, buckets, ...grads]) t.dispose();
    tiny.dispose();
    half.dispose();
  });

  const dropoutLayers: [string, (rate: number) => AttentionLayer][] = [
    ['LocalSelfAttention', (rate) => new LocalSelfAttention({ ...CONFIG, chunkLength: 4, chunksAfter: 1, attentionDropout: rate })],
    [
      'LocalSelfAttention causal, length not a multiple',
      (rate) => new LocalSelfAttention({ ...CONFIG, chunkLength: 6, causal: true, attentionDropout: rate }),
    ],
    ['FullSelfAttention', (rate) => new FullSelfAttention({ ...CONFIG, causal: true, attentionDropout: rate })],
  ];
  for (const [name, make] of dropoutLayers) {
    it(`${name}: attention dropout path equals the fused kernel at a negligible rate, replays, and drops at 0.5`, async () => {
      const x = tensor(X, [B, L, 16]);
      const maskHost = Int32Array.from({ length: B * L }, (_, i) => (i % 7 === 5 ? 0 : 1));
      const mask = tensor(maskHost, [B, L], 'int32');
      const real = (batch: number, pos: number): boolean => maskHost[batch * L + pos] === 1;
      const tiny = make(1e-9);
      const evalOut = await values(() => tiny.eval().forward(x, { mask }));
      const trainOut = await values(() => seedScope(1, () => tiny.train().forward(x, { mask })));
      expect(maxDiffReal(trainOut, evalOut, [B, L, 16], real)).toBeLessThan(2e-5);
      const half = make(0.5);
      const a = await values(() => seedScope(2, () => half.forward(x, { mask })));
      const b = await values(() => seedScope(2, () => half.forward(x, { mask })));
      expect(b).toEqual(a);
      expect(maxDiff(a, evalOut)).toBeGreaterThan(1e-2);
      const { grads } = gradients(() => sum(seedScope(2, () => half.forward(x, { mask }))), [x, ...half.parameters()]);
      for (const g of grads) expect((await g.data()).every((v) => Number.isFinite(v))).toBe(true);
      for (const t of [x, mask, ...grads]) t.dispose();
      tiny.dispose();
      half.dispose();
    });
  }

  it('the dropout path at rate 0 equals localAttention and fullAttention (padding, masks, wrap-around)', async () => {
    const [b, h, l, d] = [2, 2, 11, 4];
    const q = tensor(hostRandom(b * h * l * d, 4), [b, h, l, d]);
    const k = tensor(hostRandom(b * h * l * d, 5), [b, h, l, d]);
    const v = tensor(hostRandom(b * h * l * d, 6), [b, h, l, d]);
    const maskHost = Int32Array.from({ length: b * l }, (_, i) => (i % 4 === 1 ? 0 : 1));
    const mask = tensor(maskHost, [b, l], 'int32');
    const real = (batch: number, pos: number): boolean => maskHost[batch * l + pos] === 1;
    for (const causal of [false, true]) {
      for (const [before, after] of [
        [1, 0],
        [0, 1],
        [2, 1],
      ] as const) {
        const local = await values(() =>
          localAttention(q, k, v, { chunkLength: 3, chunksBefore: before, chunksAfter: after, causal, mask }),
        );
        const ours = await values(() =>
          windowedAttentionWithDropout(q, k, v, {
            chunkLength: 3,
            chunksBefore: before,
            chunksAfter: after,
            causal,
            mask,
            scale: 1 / Math.sqrt(d),
            dropoutRate: 0,
            dropoutSeed: 0,
          }),
        );
        expect(maxDiffReal(ours, local, [b, h, l, d], real)).toBeLessThan(1e-5);
        expect(ours.every((z) => Number.isFinite(z))).toBe(true); // padded queries: finite, not compared
      }
      const full = await values(() => fullAttention(q, k, v, { causal, mask, scale: 0.5 }));
      const ours = await values(() =>
        windowedAttentionWithDropout(q, k, v, {
          chunkLength: l,
          chunksBefore: 0,
          chunksAfter: 0,
          causal,
          mask,
          scale: 0.5,
          dropoutRate: 0,
          dropoutSeed: 0,
        }),
      );
      expect(maxDiffReal(ours, full, [b, h, l, d], real)).toBeLessThan(1e-5);
    }
    for (const t of [q, k, v, mask]) t.dispose();
  });
});

describe('bad input: named errors naming the parameter and the expected value', () => {
  const x = (): Tensor => tensor(X, [B, L, 16]);

  it('config', () => {
    for (const Layer of [LSHSelfAttention, LocalSelfAttention, FullSelfAttention]) {
      expect(() => new Layer({ ...CONFIG, chunkLength: 0 })).toThrow(InvalidArgumentError);
      expect(() => new Layer({ ...CONFIG, chunkLength: 0 })).toThrow(/chunkLength must be a positive integer, got 0/);
      expect(() => new Layer({ ...CONFIG, hiddenSize: 2.5 })).toThrow(/hiddenSize must be a positive integer/);
      expect(() => new Layer({ ...CONFIG, numHeads: 0 })).toThrow(/numHeads/);
      expect(() => new Layer({ ...CONFIG, chunksBefore: -1 })).toThrow(/chunksBefore must be a non-negative integer, got -1/);
      expect(() => new Layer({ ...CONFIG, outputDropout: 1 })).toThrow(/outputDropout must be a number in \[0, 1\), got 1/);
      expect(() => new Layer({ ...CONFIG, attentionDropout: -0.1 })).toThrow(/attentionDropout/);
      expect(() => new Layer({ ...CONFIG, initStd: -1 })).toThrow(/initStd/);
      expect(() => new Layer({ ...CONFIG, seed: -3 })).toThrow(/seed must be a non-negative integer/);
    }
    expect(() => new LSHSelfAttention({ ...CONFIG, nBuckets: 3 })).toThrow(/nBuckets must be an even integer ≥ 2.*got 3/);
    expect(() => new LSHSelfAttention({ ...CONFIG, nBuckets: [4, 3] })).toThrow(/nBuckets.*got \[4,3\]/);
    expect(() => new LSHSelfAttention({ ...CONFIG, nHashes: 0 })).toThrow(/nHashes must be a positive integer, got 0/);
    expect(() => new LSHSelfAttention({ ...CONFIG, hashSeed: 1.5 })).toThrow(/hashSeed/);
    expect(() => new FullSelfAttention({ ...CONFIG, queryChunk: 0 })).toThrow(/queryChunk must be a positive integer, got 0/);
  });

  it('forward inputs', () => {
    const layers: AttentionLayer[] = [
      new LSHSelfAttention({ ...CONFIG, nBuckets: 4 }),
      new LocalSelfAttention(CONFIG),
      new FullSelfAttention(CONFIG),
    ];
    const xt = x();
    for (const layer of layers) {
      const wrong = zeros([B, L, 12]);
      expect(() => layer.forward(wrong)).toThrow(ShapeMismatchError);
      expect(() => layer.forward(wrong)).toThrow(/dModel\) must equal hiddenSize = 16, got \[2, 16, 12\]/);
      const flat = zeros([B * L, 16]);
      expect(() => layer.forward(flat)).toThrow(/\[batch, length, hiddenSize = 16\]/);
      const ints = zeros([B, L, 16], 'int32');
      expect(() => layer.forward(ints)).toThrow(DTypeError);
      const floatMask = zeros([B, L]);
      expect(() => layer.forward(xt, { mask: floatMask })).toThrow(DTypeError);
      const shortMask = zeros([B, L - 1], 'int32');
      expect(() => layer.forward(xt, { mask: shortMask })).toThrow(/mask must have shape \[batch, length\] = \[2, 16\], got \[2, 15\]/);
      for (const t of [wrong, flat, ints, floatMask, shortMask]) t.dispose();
      layer.dispose();
    }
    const lsh = new LSHSelfAttention({ ...CONFIG, nBuckets: 4 });
    expect(() => lsh.forward(xt, { nHashes: 0 })).toThrow(/options\.nHashes must be a positive integer, got 0/);
    const badBuckets = zeros([B, 3, 1, L], 'int32');
    expect(() => lsh.forward(xt, { buckets: badBuckets })).toThrow(
      /options\.buckets must be \[batch, numHeads, nHashes, length\] = \[2, 2, nHashes, 16\], got \[2, 3, 1, 16\]/,
    );
    const floatBuckets = zeros([B, 2, 1, L]);
    expect(() => lsh.forward(xt, { buckets: floatBuckets })).toThrow(DTypeError);
    const twoRounds = zeros([B, 2, 2, L], 'int32');
    expect(() => lsh.forward(xt, { buckets: twoRounds, nHashes: 3 })).toThrow(/nHashes = 3 disagrees/);
    for (const t of [badBuckets, floatBuckets, twoRounds, xt]) t.dispose();
    lsh.dispose();
  });
});
