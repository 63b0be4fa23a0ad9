/**
 * fullAttention, dense and query-chunked, against brute-force softmax attention (causal, padding
 * mask, scale), with central finite-difference gradients; query-chunked windows cover every key
 * exactly once (a duplicate would change the softmax weights).
 */
import { describe, expect, it } from 'vitest';
import { dispose, gradients, keep, memory, mul, sum, tensor, type Tensor } from '@reformer/core';
import { fullAttention } from '../src/full-attention.js';
import { Rng, compare, finiteDifferences, referenceDense, weightedSum, type RefQKV } from './brute-force.js';

const rng = new Rng(31337);

function up(values: Float64Array, shape: number[]): Tensor {
  return tensor(Float32Array.from(values), shape);
}

describe('fullAttention against brute-force softmax attention', () => {
  const cases = [
    // [L, queryChunk, causal, mask, scale]
    [9, undefined, false, false, undefined],
    [9, undefined, true, true, undefined],
    [12, 4, false, false, undefined],
    [12, 4, true, true, 0.7],
    [13, 4, false, true, undefined],
    [13, 5, true, false, undefined],
    [7, 1, false, false, 1.3],
    [7, 3, true, true, undefined],
    [6, 6, false, true, undefined],
    [6, 20, true, false, undefined],
  ] as const;

  it.each(cases)('L %i, queryChunk %s, causal %s, mask %s, scale %s', async (L, queryChunk, causal, withMask, scale) => {
    const [B, H, d, dv] = [2, 2, 4, 3];
    const p: RefQKV = { B, H, L, d, dv, q: rng.normals(B * H * L * d), k: rng.normals(B * H * L * d), v: rng.normals(B * H * L * dv) };
    const maskHost = withMask ? Int32Array.from({ length: B * L }, (_, i) => (i % L < L - 2 || i % L === 0 ? 1 : 0)) : undefined;
    const real = (b: number, t: number) => !maskHost || maskHost[b * L + t] !== 0;
    const W = rng.normals(B * H * L * dv);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++)
        for (let t = 0; t < L; t++) if (!real(b, t)) W.fill(0, ((b * H + h) * L + t) * dv, ((b * H + h) * L + t + 1) * dv);
    const q = up(p.q, [B, H, L, d]);
    const k = up(p.k, [B, H, L, d]);
    const v = up(p.v, [B, H, L, dv]);
    const Wt = up(W, [B, H, L, dv]);
    const mask = maskHost ? tensor(maskHost, [B, L], 'int32') : undefined;
    const options = {
      causal,
      ...(mask ? { mask } : {}),
      ...(queryChunk !== undefined ? { queryChunk } : {}),
      ...(scale !== undefined ? { scale } : {}),
    };
    const live = memory().liveTensors;
    let out: Tensor | undefined;
    const { value, grads } = gradients(() => {
      const y = fullAttention(q, k, v, options);
      out = keep(y);
      return sum(mul(y, Wt));
    }, [q, k, v]);
    const got = await out!.data();
    const gotGrads = await Promise.all(grads.map((g) => g.data()));
    dispose([value, grads, out]);
    expect(memory().liveTensors).toBe(live);

    const o = { scale: scale ?? 1 / Math.sqrt(d), allowed: (b: number, i: number, j: number) => !(causal && j > i) && real(b, j) };
    const want = referenceDense(p, o);
    const idx: number[] = [];
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++)
        for (let t = 0; t < L; t++) if (real(b, t)) for (let e = 0; e < dv; e++) idx.push(((b * H + h) * L + t) * dv + e);
    const cmp = compare(
      idx.map((i) => got[i]!),
      idx.map((i) => want.out[i]!),
      1e-5,
      1e-4,
    );
    expect(cmp.excess, `output max abs ${cmp.maxAbs}`).toBeLessThanOrEqual(0);
    const x = { ...p, q: Float64Array.from(p.q), k: Float64Array.from(p.k), v: Float64Array.from(p.v) };
    const fd = finiteDifferences(() => weightedSum(referenceDense(x, o, want.shifts).out, W), [x.q, x.k, x.v]);
    fd.forEach((g, j) => {
      const c = compare(gotGrads[j]!, g, 2e-5, 2e-4);
      expect(c.excess, `gradient ${'qkv'[j]} max abs ${c.maxAbs}`).toBeLessThanOrEqual(0);
    });
    dispose([q, k, v, Wt, mask]);
  });

  it('query-chunked equals dense for every chunk size (each key exactly once)', async () => {
    const [B, H, L, d, dv] = [1, 2, 10, 3, 2];
    const q = up(rng.normals(B * H * L * d), [B, H, L, d]);
    const k = up(rng.normals(B * H * L * d), [B, H, L, d]);
    const v = up(rng.normals(B * H * L * dv), [B, H, L, dv]);
    for (const causal of [false, true]) {
      const dense = await fullAttention(q, k, v, { causal }).data();
      for (let qc = 1; qc <= L + 1; qc++) {
        const chunked = await fullAttention(q, k, v, { causal, queryChunk: qc }).data();
        const cmp = compare(chunked, dense, 1e-6, 1e-5);
        expect(cmp.excess, `queryChunk ${qc}: max abs ${cmp.maxAbs}`).toBeLessThanOrEqual(0);
      }
    }
    dispose([q, k, v]);
  });
});
