import { describe, expect, it } from 'vitest';
import {
  Dropout,
  DTypeError,
  Embedding,
  gradients,
  InvalidArgumentError,
  LayerNorm,
  Linear,
  memory,
  mul,
  randomNormal,
  ReformerError,
  seedScope,
  ShapeMismatchError,
  square,
  sum,
  tensor,
  tidy,
} from '../src/index.js';
import { expectClose, hostRandom } from './helpers.js';

/** y[n, o] = Σ_i x[n, i]·W[o, i] + b[o] in float64. */
function hostLinear(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | null,
  rows: number,
  inF: number,
  outF: number,
): Float64Array {
  const y = new Float64Array(rows * outF);
  for (let n = 0; n < rows; n++) {
    for (let o = 0; o < outF; o++) {
      let acc = b ? b[o]! : 0;
      for (let i = 0; i < inF; i++) acc += x[n * inF + i]! * w[o * inF + i]!;
      y[n * outF + o] = acc;
    }
  }
  return y;
}

describe('Linear', () => {
  it('computes x·Wᵀ + b like a hand loop, for rank 3 and rank 1 inputs', async () => {
    const lin = new Linear({ inFeatures: 4, outFeatures: 5, seed: 3 });
    expect(lin.weight.shape).toEqual([5, 4]);
    expect(lin.bias!.shape).toEqual([5]);
    const xv = hostRandom(2 * 3 * 4, 1);
    const x = tensor(xv, [2, 3, 4]);
    const live = memory().liveTensors;
    const y = lin.forward(x);
    expect(memory().liveTensors, 'forward frees its intermediates itself').toBe(live + 1);
    expect(y.shape).toEqual([2, 3, 5]);
    const w = await lin.weight.data();
    const b = await lin.bias!.data();
    expectClose(await y.data(), hostLinear(xv, w, b, 6, 4, 5), 1e-5, 1e-6, 'y');

    const noBias = new Linear({ inFeatures: 4, outFeatures: 2, bias: false, seed: 4 });
    expect(noBias.bias).toBeNull();
    expect([...noBias.namedParameters().keys()]).toEqual(['weight']);
    const x1 = tensor(xv.slice(0, 4), [4]);
    const y1 = noBias.forward(x1);
    expect(y1.shape).toEqual([2]);
    expectClose(await y1.data(), hostLinear(xv.slice(0, 4), await noBias.weight.data(), null, 1, 4, 2), 1e-5, 1e-6, 'y1');
    expect(() => lin.forward(tensor(new Float32Array(6), [2, 3]))).toThrow(ShapeMismatchError);
    for (const t of [x, y, x1, y1]) t.dispose();
    lin.dispose();
    noBias.dispose();
  });

  it('initialises as PyTorch (uniform ±1/√in) or N(0, std) with zero bias, reproducibly by seed', async () => {
    const a = new Linear({ inFeatures: 16, outFeatures: 32, seed: 7 });
    const b = new Linear({ inFeatures: 16, outFeatures: 32, seed: 7 });
    const c = new Linear({ inFeatures: 16, outFeatures: 32, seed: 8 });
    const wa = await a.weight.data();
    const bound = 1 / Math.sqrt(16);
    expect(Array.from(wa).every((v) => Math.abs(v) <= bound)).toBe(true);
    expect(Array.from(await a.bias!.data()).every((v) => Math.abs(v) <= bound)).toBe(true);
    // uniform on [−bound, bound): variance bound²/3
    const varA = Array.from(wa).reduce((s, v) => s + v * v, 0) / wa.length;
    expect(Math.abs(varA - bound ** 2 / 3)).toBeLessThan((0.2 * bound ** 2) / 3);
    expect(Array.from(await b.weight.data())).toEqual(Array.from(wa));
    expect(Array.from(await b.bias!.data())).toEqual(Array.from(await a.bias!.data()));
    expect(Array.from(await c.weight.data())).not.toEqual(Array.from(wa));

    const hf = new Linear({ inFeatures: 64, outFeatures: 64, init: { std: 0.02 }, seed: 1 });
    const wh = await hf.weight.data();
    const std = Math.sqrt(Array.from(wh).reduce((s, v) => s + v * v, 0) / wh.length);
    expect(Math.abs(std - 0.02)).toBeLessThan(0.002);
    expect(Array.from(await hf.bias!.data()).every((v) => v === 0)).toBe(true);
    for (const m of [a, b, c, hf]) m.dispose();
  });

  it('has gradients that match central finite differences (float64 on the host)', async () => {
    const [N, I, O] = [3, 4, 2];
    const lin = new Linear({ inFeatures: I, outFeatures: O, seed: 11 });
    const xv = hostRandom(N * I, 5);
    const x = tensor(xv, [N, I]);
    // loss = Σ c ⊙ (x·Wᵀ + b)² with fixed weights c, so every gradient entry differs
    const cv = hostRandom(N * O, 9);
    const c = tensor(cv, [N, O]);
    const { value, grads } = gradients(() => sum(mul(c, square(lin.forward(x)))), [lin.weight, lin.bias!, x]);
    const W = Float64Array.from(await lin.weight.data());
    const B = Float64Array.from(await lin.bias!.data());
    const X = Float64Array.from(xv);
    const loss = (): number => {
      const y = hostLinear(X, W, B, N, I, O);
      let s = 0;
      for (let k = 0; k < y.length; k++) s += cv[k]! * y[k]! ** 2;
      return s;
    };
    expect(await value.item()).toBeCloseTo(loss(), 4);
    const h = 1e-6;
    const fd = (arr: Float64Array): Float64Array =>
      arr.map((v, k) => {
        arr[k] = v + h;
        const up = loss();
        arr[k] = v - h;
        const down = loss();
        arr[k] = v;
        return (up - down) / (2 * h);
      });
    const [gW, gB, gX] = grads as [typeof value, typeof value, typeof value];
    expectClose(await gW.data(), fd(W), 1e-4, 1e-5, 'dW');
    expectClose(await gB.data(), fd(B), 1e-4, 1e-5, 'db');
    expectClose(await gX.data(), fd(X), 1e-4, 1e-5, 'dx');
    for (const t of [x, c, value, ...grads]) t.dispose();
    lin.dispose();
  });
});

describe('LayerNorm', () => {
  it('matches a hand computation with loaded weight and bias', async () => {
    for (const eps of [undefined, 1e-5]) {
      const D = 6;
      const ln = new LayerNorm({ dim: D, ...(eps === undefined ? {} : { eps }) });
      expect(Array.from(await ln.weight.data())).toEqual(new Array(D).fill(1));
      expect(Array.from(await ln.bias.data())).toEqual(new Array(D).fill(0));
      const g = hostRandom(D, 2).map((v) => v + 1.5);
      const b = hostRandom(D, 3);
      ln.loadStateDict(
        new Map([
          ['weight', { shape: [D], values: g }],
          ['bias', { shape: [D], values: b }],
        ]),
      );
      const xv = hostRandom(4 * D, 4).map((v, i) => v * (1 + (i % 5)));
      const x = tensor(xv, [2, 2, D]);
      const y = ln.forward(x);
      expect(y.shape).toEqual([2, 2, D]);
      const e = eps ?? 1e-12;
      const want = new Float64Array(xv.length);
      for (let r = 0; r < 4; r++) {
        const row = Array.from(xv.slice(r * D, (r + 1) * D));
        const m = row.reduce((s, v) => s + v, 0) / D;
        const v = row.reduce((s, u) => s + (u - m) ** 2, 0) / D;
        row.forEach((u, j) => (want[r * D + j] = ((u - m) / Math.sqrt(v + e)) * g[j]! + b[j]!));
      }
      expectClose(await y.data(), want, 1e-4, 1e-5, 'layerNorm');
      x.dispose();
      y.dispose();
      ln.dispose();
    }
  });
});

describe('Embedding', () => {
  it('looks up rows, has scatter gradients, and rejects bad ids with named errors', async () => {
    const emb = new Embedding({ numEmbeddings: 5, dim: 3, seed: 2 });
    const w = await emb.weight.data();
    const idv = [4, 0, 4, 2, 1, 3];
    const ids = tensor(new Int32Array(idv), [2, 3]);
    const out = emb.forward(ids);
    expect(out.shape).toEqual([2, 3, 3]);
    const want = idv.flatMap((i) => Array.from(w.slice(i * 3, i * 3 + 3)));
    expect(Array.from(await out.data())).toEqual(want);

    // d/dW Σ c ⊙ E[ids] accumulates c rows into the looked-up rows.
    const cv = hostRandom(18, 1);
    const c = tensor(cv, [2, 3, 3]);
    const { value, grads } = gradients(() => sum(mul(c, emb.forward(ids))), [emb.weight]);
    const gw = new Float64Array(15);
    idv.forEach((row, k) => {
      for (let j = 0; j < 3; j++) gw[row * 3 + j] = gw[row * 3 + j]! + cv[k * 3 + j]!;
    });
    expectClose(await grads[0]!.data(), gw, 1e-5, 1e-6, 'dEmbedding');

    const bad = tensor(new Int32Array([0, 5]), [2]);
    expect(() => emb.forward(bad).dispose()).toThrow(InvalidArgumentError);
    const neg = tensor(new Int32Array([-1]), [1]);
    expect(() => emb.forward(neg).dispose()).toThrow(ReformerError);
    const float = tensor([0, 1]);
    expect(() => emb.forward(float)).toThrow(DTypeError);

    const hf = new Embedding({ numEmbeddings: 100, dim: 50, init: { std: 0.02 }, seed: 3 });
    const wh = await hf.weight.data();
    const std = Math.sqrt(Array.from(wh).reduce((s, v) => s + v * v, 0) / wh.length);
    expect(Math.abs(std - 0.02)).toBeLessThan(0.002);
    for (const t of [ids, out, c, value, ...grads, bad, neg, float]) t.dispose();
    emb.dispose();
    hf.dispose();
  });
});

describe('Dropout', () => {
  it('is the identity in eval mode and at rate 0', async () => {
    const x = randomNormal([5, 7], { seed: 1 });
    const xv = Array.from(await x.data());
    const drop = new Dropout({ rate: 0.5 }).eval();
    const y = drop.forward(x);
    expect(y).not.toBe(x);
    expect(Array.from(await y.data())).toEqual(xv);
    const zero = new Dropout({ rate: 0 });
    expect(zero.training).toBe(true);
    const z = zero.forward(x);
    expect(Array.from(await z.data())).toEqual(xv);
    expect(() => new Dropout({ rate: 1 })).toThrow(InvalidArgumentError);
    expect(() => new Dropout({ rate: -0.1 })).toThrow(InvalidArgumentError);
    for (const t of [x, y, z]) t.dispose();
  });

  it('zeroes about rate·n elements, scales the rest by 1/(1 − rate), and replays masks by seedScope', async () => {
    const n = 100_000;
    const rate = 0.3;
    const x = randomNormal([100, 1000], { seed: 2 });
    const xv = await x.data();
    const drop = new Dropout({ rate });
    const y = seedScope(42, () => drop.forward(x));
    const yv = await y.data();
    let zeros = 0;
    for (let i = 0; i < n; i++) {
      if (yv[i] === 0) zeros++;
      else expect(Math.abs(yv[i]! - xv[i]! / (1 - rate))).toBeLessThanOrEqual(1e-6 * Math.abs(xv[i]! / (1 - rate)));
    }
    const sigma = Math.sqrt(n * rate * (1 - rate));
    expect(Math.abs(zeros - n * rate)).toBeLessThan(5 * sigma);

    const mask = (v: ArrayLike<number>): boolean[] => Array.from(v, (u) => u === 0);
    const same = seedScope(42, () => drop.forward(x));
    expect(mask(await same.data())).toEqual(mask(yv));
    const other = seedScope(43, () => drop.forward(x));
    expect(mask(await other.data())).not.toEqual(mask(yv));
    // Two calls in one scope draw two different masks, replayed in the same order.
    const [a1, a2] = seedScope(5, () => [drop.forward(x), drop.forward(x)]);
    const [b1, b2] = seedScope(5, () => [drop.forward(x), drop.forward(x)]);
    expect(mask(await a1!.data())).not.toEqual(mask(await a2!.data()));
    expect(mask(await b1!.data())).toEqual(mask(await a1!.data()));
    expect(mask(await b2!.data())).toEqual(mask(await a2!.data()));
    // A module seed changes the mask at the same stream position, and still replays.
    const seeded = new Dropout({ rate, seed: 9 });
    const s1 = seedScope(42, () => seeded.forward(x));
    const s2 = seedScope(42, () => seeded.forward(x));
    expect(mask(await s1.data())).not.toEqual(mask(yv));
    expect(mask(await s2.data())).toEqual(mask(await s1.data()));
    for (const t of [x, y, same, other, a1!, a2!, b1!, b2!, s1, s2]) t.dispose();
  });

  it('frees everything it creates under tidy', () => {
    const x = randomNormal([8, 8], { seed: 3 });
    const drop = new Dropout({ rate: 0.2 });
    const before = memory().liveTensors;
    tidy(() => {
      const { value, grads } = gradients(() => sum(drop.forward(x)), [x]);
      expect(grads[0]!.shape).toEqual([8, 8]);
      return value;
    }).dispose();
    expect(memory().liveTensors).toBe(before);
    x.dispose();
  });
});
