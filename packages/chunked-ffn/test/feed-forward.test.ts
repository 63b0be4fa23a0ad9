import { describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  ShapeMismatchError,
  dispose,
  gradients,
  memory,
  resetPeak,
  seedScope,
  sum,
  mul,
  tidy,
  tensor,
  type Tensor,
} from '@reformer/core';
import { ChunkedFeedForward, type FeedForwardActivation } from '../src/index.js';
import { directionalDerivatives, expectClose, hostRandom, maxAbs, rand } from './helpers.js';

/** erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7). */
function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}

/**
 * The feed-forward block computed on the host in float64 with plain loops, from the module's weights:
 * LayerNorm → x·W1ᵀ + b1 → act → ·W2ᵀ + b2 (no dropout).
 */
function hostFeedForward(ff: ChunkedFeedForward, x: Tensor, act: FeedForwardActivation, eps = 1e-12): Float64Array {
  const p = ff.namedParameters();
  const get = (n: string): Float32Array => p.get(n)!.dataSync() as Float32Array;
  const [g, b, w1, b1, w2, b2] = [
    'layer_norm.weight',
    'layer_norm.bias',
    'dense.dense.weight',
    'dense.dense.bias',
    'output.dense.weight',
    'output.dense.bias',
  ].map(get) as Float32Array[];
  const h = ff.hiddenSize;
  const f = ff.feedForwardSize;
  const xv = x.dataSync();
  const rows = xv.length / h;
  const out = new Float64Array(xv.length);
  const n = new Float64Array(h);
  const a = new Float64Array(f);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let i = 0; i < h; i++) mean += xv[r * h + i]!;
    mean /= h;
    let v = 0;
    for (let i = 0; i < h; i++) v += (xv[r * h + i]! - mean) ** 2;
    v /= h;
    for (let i = 0; i < h; i++) n[i] = ((xv[r * h + i]! - mean) / Math.sqrt(v + eps)) * g![i]! + b![i]!;
    for (let j = 0; j < f; j++) {
      let z = b1![j]!;
      for (let i = 0; i < h; i++) z += n[i]! * w1![j * h + i]!;
      a[j] = act === 'relu' ? Math.max(0, z) : z * 0.5 * (1 + erf(z / Math.SQRT2));
    }
    for (let i = 0; i < h; i++) {
      let z = b2![i]!;
      for (let j = 0; j < f; j++) z += a[j]! * w2![i * f + j]!;
      out[r * h + i] = z;
    }
  }
  return out;
}

function makeFF(act: FeedForwardActivation, chunkSize: number, extra: { dropout?: number } = {}): ChunkedFeedForward {
  const ff = new ChunkedFeedForward({ hiddenSize: 8, feedForwardSize: 32, activation: act, chunkSize, initStd: 0.3, seed: 5, ...extra });
  // Non-trivial LayerNorm parameters.
  ff.loadStateDict(
    new Map([
      ['layer_norm.weight', { shape: [8], values: hostRandom(8, 1, 1) }],
      ['layer_norm.bias', { shape: [8], values: hostRandom(8, 2, 0.5) }],
      ['dense.dense.bias', { shape: [32], values: hostRandom(32, 3, 0.3) }],
      ['output.dense.bias', { shape: [8], values: hostRandom(8, 4, 0.3) }],
    ]),
    { strict: false },
  );
  return ff;
}

describe('ChunkedFeedForward', () => {
  it('has Hugging Face parameter names and shapes', () => {
    const ff = new ChunkedFeedForward({ hiddenSize: 16, feedForwardSize: 64, activation: 'relu' });
    const shapes = [...ff.namedParameters()].map(([n, v]) => [n, v.shape]);
    expect(shapes).toEqual([
      ['layer_norm.weight', [16]],
      ['layer_norm.bias', [16]],
      ['dense.dense.weight', [64, 16]],
      ['dense.dense.bias', [64]],
      ['output.dense.weight', [16, 64]],
      ['output.dense.bias', [16]],
    ]);
    expect([...ff.stateDict().keys()]).toEqual(shapes.map(([n]) => n));
    ff.dispose();
  });

  for (const act of ['relu', 'gelu'] as const) {
    it(`${act}: forward equals a host computation from the same weights (chunked and not)`, () => {
      for (const chunkSize of [0, 3, 64]) {
        const ff = makeFF(act, chunkSize);
        const x = rand([2, 7, 8], 11, 2);
        const y = ff.forward(x);
        expect(y.shape).toEqual([2, 7, 8]);
        expectClose(y, hostFeedForward(ff, x, act), { atol: 2e-5, rtol: 1e-4 }, `chunk ${chunkSize}`);
        dispose([x, y]);
        ff.dispose();
      }
    });

    it(`${act}: chunked equals unchunked for the output and every gradient`, () => {
      const ref = makeFF(act, 0);
      const ffs = [1, 3, 4, 10].map((c) => makeFF(act, c));
      const x = rand([2, 10, 8], 12, 2);
      const dy = rand([2, 10, 8], 13);
      const want = gradients(() => ref.forward(x), [x, ...ref.parameters()], dy);
      for (const ff of ffs) {
        const got = gradients(() => ff.forward(x), [x, ...ff.parameters()], dy);
        expectClose(got.value, want.value, { atol: 1e-6, rtol: 1e-5 }, `value, chunk ${ff.chunkSize}`);
        want.grads.forEach((g, i) => {
          expect(maxAbs(g)).toBeGreaterThan(1e-3);
          expectClose(got.grads[i]!, g, { atol: 1e-5, rtol: 1e-4 }, `grad ${i}, chunk ${ff.chunkSize}`);
        });
        dispose(got);
        ff.dispose();
      }
      dispose([want, x, dy]);
      ref.dispose();
    });
  }

  it('dropout: eval mode is deterministic and chunk-independent; training replays masks in the backward', () => {
    const ref = makeFF('gelu', 0, { dropout: 0.3 }).eval();
    const ff = makeFF('gelu', 4, { dropout: 0.3 }).eval();
    const x = rand([1, 9, 8], 14, 2);
    const a = ref.forward(x);
    const b = ff.forward(x);
    expectClose(b, a, { atol: 1e-6 });
    ff.train();
    const dy = rand([1, 9, 8], 15);
    const dir = rand([1, 9, 8], 16);
    const objective = (t: Tensor): number => tidy(() => seedScope(3, () => sum(mul(ff.forward(t), dy))).dataSync()[0]!);
    const { value, grads } = seedScope(3, () => gradients(() => sum(mul(ff.forward(x), dy)), [x]));
    const noDrop = tidy(() => sum(mul(ref.forward(x), dy)).dataSync()[0]!);
    expect(Math.abs(value.dataSync()[0]! - noDrop)).toBeGreaterThan(1e-3); // dropout is active
    const { fd, analytic } = directionalDerivatives(objective, x, dir, grads[0]!);
    expect(Math.abs(fd - analytic)).toBeLessThan(3e-3 * Math.max(1, Math.abs(analytic)));
    dispose([a, b, x, dy, dir, value, grads]);
    ff.dispose();
    ref.dispose();
  });

  it('applies the inner dropout before the activation (Hugging Face order)', () => {
    // With rate p, each inner activation is 0 (dropped) or gelu(z / (1 − p)) (kept), z being the
    // pre-activation without dropout; dropout after the activation would give gelu(z) / (1 − p).
    const p = 0.5;
    const ff = makeFF('gelu', 0, { dropout: 0 });
    const drop = new ChunkedFeedForward({
      hiddenSize: 8,
      feedForwardSize: 32,
      activation: 'gelu',
      activationDropout: p,
      dropout: 0,
      seed: 5,
      initStd: 0.3,
    });
    drop.loadStateDict(ff.stateDict());
    const n = rand([1, 6, 8], 18, 2);
    const z = ff.dense.dense.forward(n);
    const a = seedScope(1, () => drop.dense.forward(n));
    const zv = z.dataSync();
    const av = a.dataSync();
    const gelu = (t: number): number => t * 0.5 * (1 + erf(t / Math.SQRT2));
    let kept = 0;
    for (let i = 0; i < zv.length; i++) {
      if (av[i] === 0 && Math.abs(zv[i]!) > 1e-3) continue;
      kept++;
      expect(Math.abs(av[i]! - gelu(zv[i]! / (1 - p)))).toBeLessThan(1e-4);
    }
    expect(kept).toBeGreaterThan(zv.length * 0.25);
    expect(kept).toBeLessThan(zv.length * 0.75);
    dispose([n, z, a]);
    ff.dispose();
    drop.dispose();
  });

  it('peak memory of forward + backward with chunkSize = L/8 is at most 1/4 of the unchunked peak (F = 4H)', () => {
    // Measured as memory().peakBytes − memory().liveBytes right after resetPeak(), i.e. only what the
    // forward + backward adds on top of what existed before (x, dy, the parameters).
    const B = 1;
    const L = 1024;
    const H = 32;
    const peakOf = (chunkSize: number): number => {
      const ff = new ChunkedFeedForward({ hiddenSize: H, feedForwardSize: 4 * H, activation: 'gelu', chunkSize, seed: 1 });
      const x = rand([B, L, H], 1);
      const dy = rand([B, L, H], 2);
      resetPeak();
      const base = memory().liveBytes;
      const out = gradients(() => ff.forward(x), [x, ...ff.parameters()], dy);
      const peak = memory().peakBytes - base;
      dispose([out, x, dy]);
      ff.dispose();
      return peak;
    };
    const full = peakOf(0);
    const chunkedPeak = peakOf(L / 8);
    // The [B, L, F] activations alone are 512 KiB; the unchunked peak holds several of them.
    expect(full).toBeGreaterThan(4 * B * L * 4 * H * 4);
    expect(chunkedPeak).toBeLessThanOrEqual(full / 4);
  });

  it('rejects bad options and inputs with named errors', () => {
    const base = { hiddenSize: 4, feedForwardSize: 8, activation: 'relu' as const };
    for (const chunkSize of [-1, 1.5]) {
      expect(() => new ChunkedFeedForward({ ...base, chunkSize })).toThrow(InvalidArgumentError);
      expect(() => new ChunkedFeedForward({ ...base, chunkSize })).toThrow(/chunkSize/);
    }
    expect(() => new ChunkedFeedForward({ ...base, activation: 'tanh' as 'relu' })).toThrow(/activation/);
    expect(() => new ChunkedFeedForward({ ...base, dropout: 1 })).toThrow(/dropout/);
    const ff = new ChunkedFeedForward({ ...base, chunkSize: 2 });
    expect(() => {
      ff.chunkSize = 0.5;
    }).toThrow(/chunkSize/);
    const x = tensor(new Float32Array(2 * 3 * 5), [2, 3, 5]);
    expect(() => ff.forward(x)).toThrow(ShapeMismatchError);
    const ok = tensor(new Float32Array(2 * 3 * 4), [2, 3, 4]);
    expect(() => ff.forward(ok, { chunkSize: -3 })).toThrow(/chunkSize/);
    dispose([x, ok]);
    ff.dispose();
  });

  it('leaks no tensors', () => {
    const ff = makeFF('relu', 3, { dropout: 0.1 });
    const x = rand([2, 10, 8], 17);
    const before = memory().liveTensors;
    const out = gradients(() => sum(ff.forward(x)), [x, ...ff.parameters()]);
    dispose(out);
    ff.forward(x).dispose();
    expect(memory().liveTensors).toBe(before);
    x.dispose();
    ff.dispose();
  });
});
