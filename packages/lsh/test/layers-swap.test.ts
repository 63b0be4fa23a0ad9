import { describe, expect, it } from 'vitest';
import { Linear, Module, add, gradients, memory, sum, tensor, tidy, type Tensor } from '@reformer/core';
import {
  FullSelfAttention,
  LSHSelfAttention,
  LocalSelfAttention,
  type AttentionForwardOptions,
  type AttentionLayer,
  type AttentionLayerConfig,
} from '../src/layers/index.js';

// ---------------------------------------------------------------------------------------------------
// helpers (plain host arithmetic, float64, independent of the library)

/** Deterministic host values in [-1, 1) from an LCG (independent of the library's RNG). */
function hostRandom(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol = 0, what = ''): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      throw new Error(`${what}[${i}]: got ${a}, expected ${e} (atol ${atol}, rtol ${rtol})`);
    }
  }
}

/** `x` [rows, inF] · `w`ᵀ ([outF, inF], HF layout) → [rows, outF]. */
function linear(x: ArrayLike<number>, rows: number, w: ArrayLike<number>, inF: number, outF: number): Float64Array {
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i]! * w[o * inF + i]!;
      y[r * outF + o] = s;
    }
  }
  return y;
}

interface RefAttentionOptions {
  causal: boolean;
  /** [L] 1 = real. */
  mask?: ArrayLike<number> | undefined;
  /** LSH shared-QK: keys are RMS-normalised queries / √d, and a query's own position gets −1e5. */
  sharedQK: boolean;
  /** Local attention window: chunk length and neighbours (wrap-around); undefined = every position. */
  window?: { chunk: number; before: number; after: number } | undefined;
}

/**
 * Attention of one batch element written plainly: q, k, v [H, L, d] → out [H, L, d]. Keys are
 * scaled by 1/√d (non-shared) or RMS-normalised (shared QK); masks replace logits (−1e9, self −1e5).
 * With a window, the sequence is padded to a multiple of the chunk (padding masked) and each chunk
 * sees chunks n−before..n+after mod N, duplicates kept.
 */
function refAttention(
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  H: number,
  L: number,
  d: number,
  o: RefAttentionOptions,
): Float64Array {
  const out = new Float64Array(H * L * d);
  for (let h = 0; h < H; h++) {
    const keys: Float64Array[] = [];
    for (let j = 0; j < L; j++) {
      const kj = new Float64Array(d);
      if (o.sharedQK) {
        let ms = 0;
        for (let c = 0; c < d; c++) ms += q[(h * L + j) * d + c]! ** 2;
        const f = 1 / Math.sqrt(ms / d + 1e-6) / Math.sqrt(d);
        for (let c = 0; c < d; c++) kj[c] = q[(h * L + j) * d + c]! * f;
      } else {
        for (let c = 0; c < d; c++) kj[c] = k[(h * L + j) * d + c]! / Math.sqrt(d);
      }
      keys.push(kj);
    }
    for (let i = 0; i < L; i++) {
      // the keys (positions, duplicates kept) of query i's window
      let positions: number[];
      if (o.window && L > o.window.chunk) {
        const { chunk, before, after } = o.window;
        const N = Math.ceil(L / chunk);
        const n = Math.floor(i / chunk);
        positions = [];
        for (let off = -before; off <= after; off++) {
          const m = (((n + off) % N) + N) % N;
          for (let t = 0; t < chunk; t++) positions.push(m * chunk + t); // may be ≥ L: padding
        }
      } else {
        positions = Array.from({ length: L }, (_, j) => j);
      }
      const logits = positions.map((j) => {
        if (j >= L) return -1e9;
        let s = 0;
        for (let c = 0; c < d; c++) s += q[(h * L + i) * d + c]! * keys[j]![c]!;
        if ((o.causal && j > i) || (o.mask && o.mask[j] === 0)) s = -1e9;
        if (o.sharedQK && j === i) s = -1e5;
        return s;
      });
      const m = Math.max(...logits);
      const e = logits.map((s) => Math.exp(s - m));
      const z = e.reduce((a, b) => a + b, 0);
      positions.forEach((j, idx) => {
        if (j >= L) return;
        for (let c = 0; c < d; c++) out[(h * L + i) * d + c] = out[(h * L + i) * d + c]! + (e[idx]! / z) * v[(h * L + j) * d + c]!;
      });
    }
  }
  return out;
}

/** [L, H·d] → [H, L, d]. */
function splitHostHeads(x: Float64Array, L: number, H: number, d: number): Float64Array {
  const y = new Float64Array(H * L * d);
  for (let t = 0; t < L; t++) for (let h = 0; h < H; h++) for (let c = 0; c < d; c++) y[(h * L + t) * d + c] = x[t * H * d + h * d + c]!;
  return y;
}

/** [H, L, d] → [L, H·d]. */
function mergeHostHeads(x: Float64Array, L: number, H: number, d: number): Float64Array {
  const y = new Float64Array(H * L * d);
  for (let t = 0; t < L; t++) for (let h = 0; h < H; h++) for (let c = 0; c < d; c++) y[t * H * d + h * d + c] = x[(h * L + t) * d + c]!;
  return y;
}

/**
 * The layer's forward computed by hand from its weights (read through `namedParameters`):
 * projections, heads, {@link refAttention}, merge, output dense. x [B, L, hidden] → [B, L, hidden].
 */
async function refLayer(
  layer: AttentionLayer,
  x: Float32Array,
  B: number,
  L: number,
  o: RefAttentionOptions,
  mask?: Int32Array,
): Promise<Float64Array> {
  const { hiddenSize: Hd, numHeads: H, headSize: d } = layer;
  const p = layer.namedParameters();
  const w = async (name: string): Promise<Float32Array> => (await p.get(name)!.data()) as Float32Array;
  const sharedQK = p.has('self_attention.query_key.weight');
  const wq = await w(sharedQK ? 'self_attention.query_key.weight' : 'self_attention.query.weight');
  const wk = sharedQK ? wq : await w('self_attention.key.weight');
  const wv = await w('self_attention.value.weight');
  const wo = await w('output.dense.weight');
  const out = new Float64Array(B * L * Hd);
  for (let b = 0; b < B; b++) {
    const xb = x.subarray(b * L * Hd, (b + 1) * L * Hd);
    const q = splitHostHeads(linear(xb, L, wq, Hd, H * d), L, H, d);
    const k = splitHostHeads(linear(xb, L, wk, Hd, H * d), L, H, d);
    const v = splitHostHeads(linear(xb, L, wv, Hd, H * d), L, H, d);
    const att = refAttention(q, k, v, H, L, d, { ...o, sharedQK, mask: mask?.subarray(b * L, (b + 1) * L) });
    out.set(linear(mergeHostHeads(att, L, H, d), L, wo, H * d, Hd), b * L * Hd);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// a user's model that takes any attention layer

/** A tiny residual block around whichever attention layer it is given: `x + attention(x)`, then a head. */
class TinyModel extends Module {
  readonly attention: AttentionLayer;
  readonly head: Linear;

  constructor(attention: AttentionLayer, hidden: number) {
    super();
    this.attention = this.addModule('attention', attention);
    this.head = this.addModule('head', new Linear({ inFeatures: hidden, outFeatures: 3, seed: 99 }));
  }

  forward(x: Tensor, options?: AttentionForwardOptions): Tensor {
    return tidy(() => this.head.forward(add(x, this.attention.forward(x, options))));
  }
}

const HIDDEN = 12;
const CONFIG: AttentionLayerConfig = { hiddenSize: HIDDEN, numHeads: 2, headSize: 5, seed: 7 };

describe('parameter names and shapes (Hugging Face, docs/attention-semantics.md §1)', () => {
  // reformer.encoder.layers.{i}.attention.* without the prefix (layer_norm belongs to the model):
  //   LSH:   self_attention.query_key.weight, self_attention.value.weight [nH*d, H]; output.dense.weight [H, nH*d]
  //   local: self_attention.query.weight, .key.weight, .value.weight [nH*d, H];   output.dense.weight [H, nH*d]
  const shapes = (m: Module): [string, number[]][] => [...m.namedParameters()].map(([n, v]) => [n, [...v.shape]]);

  it('LSHSelfAttention', () => {
    const layer = new LSHSelfAttention(CONFIG);
    expect(shapes(layer)).toEqual([
      ['self_attention.query_key.weight', [10, 12]],
      ['self_attention.value.weight', [10, 12]],
      ['output.dense.weight', [12, 10]],
    ]);
    expect([...layer.stateDict().keys()]).toEqual([
      'self_attention.query_key.weight',
      'self_attention.value.weight',
      'output.dense.weight',
    ]);
    layer.dispose();
  });

  it('LocalSelfAttention and FullSelfAttention', () => {
    for (const layer of [new LocalSelfAttention(CONFIG), new FullSelfAttention(CONFIG)]) {
      expect(shapes(layer)).toEqual([
        ['self_attention.query.weight', [10, 12]],
        ['self_attention.key.weight', [10, 12]],
        ['self_attention.value.weight', [10, 12]],
        ['output.dense.weight', [12, 10]],
      ]);
      layer.dispose();
    }
  });

  it('inside a model the names get the model prefix, as HF checkpoints have them', () => {
    const model = new TinyModel(new LSHSelfAttention(CONFIG), HIDDEN);
    expect([...model.namedParameters().keys()]).toEqual([
      'attention.self_attention.query_key.weight',
      'attention.self_attention.value.weight',
      'attention.output.dense.weight',
      'head.weight',
      'head.bias',
    ]);
    model.dispose();
  });

  it('the seed fixes the weights; initStd draws normal weights with that std', async () => {
    const a = new LocalSelfAttention(CONFIG);
    const b = new LocalSelfAttention(CONFIG);
    const c = new LocalSelfAttention({ ...CONFIG, seed: 8 });
    const wa = await a.self_attention.query.weight.data();
    expect(await b.self_attention.query.weight.data()).toEqual(wa);
    expect(await c.self_attention.query.weight.data()).not.toEqual(wa);
    expect(await a.self_attention.key.weight.data()).not.toEqual(wa);
    const n = new LSHSelfAttention({ hiddenSize: 64, numHeads: 4, headSize: 16, initStd: 0.02, seed: 1 });
    const w = await n.output.dense.weight.data();
    const std = Math.sqrt(Array.from(w).reduce((s, x) => s + x * x, 0) / w.length);
    expect(std).toBeGreaterThan(0.018);
    expect(std).toBeLessThan(0.022);
    for (const m of [a, b, c, n]) m.dispose();
  });
});

describe('one model, three attention layers', () => {
  const B = 2;
  const L = 16;
  const x = hostRandom(B * L * HIDDEN, 11);
  const maskHost = Int32Array.from({ length: B * L }, (_, i) => (i >= L + 13 ? 0 : 1)); // batch 1: last 3 padded

  const layers: [string, () => AttentionLayer][] = [
    ['LSHSelfAttention', () => new LSHSelfAttention({ ...CONFIG, chunkLength: 4, nHashes: 2, nBuckets: 4, causal: true })],
    ['LocalSelfAttention', () => new LocalSelfAttention({ ...CONFIG, chunkLength: 4, causal: true })],
    ['FullSelfAttention', () => new FullSelfAttention({ ...CONFIG, causal: true, queryChunk: 5 })],
  ];

  for (const [name, make] of layers) {
    it(`${name} runs through the same model code, forward and backward, without leaking`, async () => {
      const model = new TinyModel(make(), HIDDEN);
      const before = memory().liveTensors;
      const xt = tensor(x, [B, L, HIDDEN]);
      const mask = tensor(maskHost, [B, L], 'int32');
      const params = model.parameters();
      const { value, grads } = gradients(() => sum(model.forward(xt, { mask })), [xt, ...params]);
      expect(value.shape).toEqual([]);
      expect(Number.isFinite(await value.item())).toBe(true);
      expect(grads.map((g) => g.shape)).toEqual([xt, ...params].map((p) => p.shape));
      for (const g of grads) {
        const data = await g.data();
        expect(data.every((z) => Number.isFinite(z))).toBe(true);
        expect(data.some((z) => z !== 0)).toBe(true);
      }
      const y = model.forward(xt, { mask });
      expect(y.shape).toEqual([B, L, 3]);
      for (const t of [value, ...grads, y, xt, mask]) t.dispose();
      // Only the LSH layer's lastBuckets may outlive the calls.
      expect(memory().liveTensors - before).toBe(name === 'LSHSelfAttention' ? 1 : 0);
      model.dispose();
    });
  }

  it('a local state dict loads into a full layer (same names) and gives the same output when one chunk covers the sequence', async () => {
    const local = new LocalSelfAttention({ ...CONFIG, chunkLength: L });
    const full = new FullSelfAttention({ ...CONFIG, seed: 1234 });
    full.loadStateDict(local.stateDict());
    const xt = tensor(x, [B, L, HIDDEN]);
    const a = await local.forward(xt).data();
    const b = await full.forward(xt).data();
    expectClose(a, b, 1e-5, 0, 'local vs full');
    xt.dispose();
    local.dispose();
    full.dispose();
  });
});

describe('LSH attention equals full attention with the self-exclusion rule when every window holds every position once', () => {
  // With one hash round and L = 2·chunkLength, chunksBefore = 1: there are two sorted chunks and each
  // chunk's window is the other chunk (wrapping around) plus itself, i.e. every position exactly once,
  // whatever the buckets: LSH attention is then full attention over all positions with keys = the
  // RMS-normalised queries, no 1/√d on the logits, and a query's own logit −1e5 (it attends to itself
  // only when nothing else is allowed, e.g. position 0 in causal mode). The hashing, sort, chunking and
  // unsort all run (L > chunkLength). With chunkLength ≥ L and no neighbours, N = nHashes chunks of one
  // round each: also every position once, for any number of rounds.
  const B = 2;
  const L = 16;
  const x = hostRandom(B * L * HIDDEN, 5, 1.5);
  const maskHost = Int32Array.from({ length: B * L }, (_, i) => (i % L === 3 || i === L + 14 ? 0 : 1));

  const cases: { name: string; config: Partial<ConstructorParameters<typeof LSHSelfAttention>[0]>; mask?: boolean }[] = [
    { name: '2 buckets, causal', config: { nBuckets: 2, causal: true, chunkLength: 8 } },
    { name: '8 buckets, bidirectional', config: { nBuckets: 8, chunkLength: 8 } },
    { name: 'factorised [2, 4] buckets, causal, padding mask', config: { nBuckets: [2, 4], causal: true, chunkLength: 8 }, mask: true },
    {
      name: 'one chunk after instead of before, bidirectional, mask',
      config: { nBuckets: 4, chunkLength: 8, chunksBefore: 0, chunksAfter: 1 },
      mask: true,
    },
    { name: '3 rounds, chunk = L, no neighbours, bidirectional', config: { nBuckets: 4, nHashes: 3, chunkLength: 16, chunksBefore: 0 } },
    {
      name: '1 round, chunk = L, no neighbours, causal, mask',
      config: { nBuckets: 2, chunkLength: 16, chunksBefore: 0, causal: true },
      mask: true,
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const layer = new LSHSelfAttention({ ...CONFIG, ...c.config }).eval();
      const xt = tensor(x, [B, L, HIDDEN]);
      const mask = c.mask ? tensor(maskHost, [B, L], 'int32') : undefined;
      const y = layer.forward(xt, { mask });
      const expected = await refLayer(layer, x, B, L, { causal: layer.causal, sharedQK: true }, c.mask ? maskHost : undefined);
      expectClose(await y.data(), expected, 2e-5, 1e-5, c.name);
      // A different config of the same layer would not match: the reference is not trivially satisfied.
      const flipped = await refLayer(layer, x, B, L, { causal: !layer.causal, sharedQK: true });
      expect(Math.max(...Array.from(await y.data(), (v, i) => Math.abs(v - flipped[i]!)))).toBeGreaterThan(1e-3);
      for (const t of [xt, y, mask]) t?.dispose();
      layer.dispose();
    });
  }
});

describe('local and full attention equal plain references', () => {
  const B = 2;
  const configs: { name: string; L: number; chunk: number; before: number; after: number; causal: boolean; mask?: boolean }[] = [
    { name: 'causal, chunk 4 of 16, one before', L: 16, chunk: 4, before: 1, after: 0, causal: true },
    { name: 'bidirectional, one before and one after (wraps around)', L: 16, chunk: 4, before: 1, after: 1, causal: false, mask: true },
    { name: 'length 14 not a multiple of chunk 4 (padded)', L: 14, chunk: 4, before: 1, after: 0, causal: false },
    { name: 'length ≤ chunk: plain attention', L: 6, chunk: 8, before: 1, after: 0, causal: true },
  ];
  for (const c of configs) {
    it(`LocalSelfAttention: ${c.name}`, async () => {
      const layer = new LocalSelfAttention({
        ...CONFIG,
        chunkLength: c.chunk,
        chunksBefore: c.before,
        chunksAfter: c.after,
        causal: c.causal,
      });
      const x = hostRandom(B * c.L * HIDDEN, 21 + c.L);
      const maskHost = Int32Array.from({ length: B * c.L }, (_, i) => (i % 5 === 2 ? 0 : 1));
      const xt = tensor(x, [B, c.L, HIDDEN]);
      const mask = c.mask ? tensor(maskHost, [B, c.L], 'int32') : undefined;
      const y = await layer.forward(xt, { mask }).data();
      const window = { chunk: c.chunk, before: c.before, after: c.after };
      const expected = await refLayer(layer, x, B, c.L, { causal: c.causal, sharedQK: false, window }, c.mask ? maskHost : undefined);
      expectClose(y, expected, 2e-5, 1e-5, c.name);
      for (const t of [xt, mask]) t?.dispose();
      layer.dispose();
    });
  }

  it('FullSelfAttention, dense and query-chunked, causal with a mask', async () => {
    const L = 13;
    const x = hostRandom(B * L * HIDDEN, 3);
    const maskHost = Int32Array.from({ length: B * L }, (_, i) => (i % 7 === 4 ? 0 : 1));
    const xt = tensor(x, [B, L, HIDDEN]);
    const mask = tensor(maskHost, [B, L], 'int32');
    const dense = new FullSelfAttention({ ...CONFIG, causal: true });
    const chunked = new FullSelfAttention({ ...CONFIG, causal: true, queryChunk: 4 });
    const expected = await refLayer(dense, x, B, L, { causal: true, sharedQK: false }, maskHost);
    expectClose(await dense.forward(xt, { mask }).data(), expected, 2e-5, 1e-5, 'dense');
    expectClose(await chunked.forward(xt, { mask }).data(), expected, 2e-5, 1e-5, 'query-chunked');
    for (const t of [xt, mask]) t.dispose();
    dense.dispose();
    chunked.dispose();
  });
});
