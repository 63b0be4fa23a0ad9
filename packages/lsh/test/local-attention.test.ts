/**
 * localAttention against brute force: explicit circular windows (Hugging Face's LocalSelfAttention,
 * docs/attention-semantics.md §5) over random configurations with central finite-difference
 * gradients, a banded dense formulation, causality and padding invariance.
 */
import { describe, expect, it } from 'vitest';
import { dispose, gradients, keep, memory, mul, sum, tensor, type Tensor } from '@reformer/core';
import { localAttention } from '../src/local-attention.js';
import { Rng, compare, finiteDifferences, referenceDense, referenceLocal, weightedSum, type RefQKV } from './brute-force.js';

const rng = new Rng(5150);

function up(values: Float64Array, shape: number[]): Tensor {
  return tensor(Float32Array.from(values), shape);
}

function problem(B: number, H: number, L: number, d: number, dv: number): RefQKV {
  return { B, H, L, d, dv, q: rng.normals(B * H * L * d), k: rng.normals(B * H * L * d), v: rng.normals(B * H * L * dv) };
}

function rowsWhere(p: RefQKV, n: number, keep: (b: number, t: number) => boolean): number[] {
  const idx: number[] = [];
  for (let b = 0; b < p.B; b++)
    for (let h = 0; h < p.H; h++)
      for (let t = 0; t < p.L; t++) if (keep(b, t)) for (let e = 0; e < n; e++) idx.push(((b * p.H + h) * p.L + t) * n + e);
  return idx;
}

describe('localAttention against brute-force windows', () => {
  const cases = Array.from({ length: 10 }, (_, i) => {
    const chunkLength = rng.int(2, 5);
    const L = i === 0 ? chunkLength : rng.int(chunkLength - 1, 4 * chunkLength + 1);
    const B = rng.int(1, 2);
    const p = problem(B, rng.int(1, 2), Math.max(1, L), rng.pick([3, 4]), rng.pick([2, 3]));
    let mask: Int32Array | undefined;
    if (i % 3 === 1) {
      mask = new Int32Array(B * p.L).fill(1);
      for (let b = 0; b < B; b++) for (let t = p.L - rng.int(0, 2); t < p.L; t++) if (t > 0) mask[b * p.L + t] = 0;
    }
    const o = { chunkLength, chunksBefore: rng.int(0, 2), chunksAfter: rng.int(0, 2), causal: i % 2 === 0, mask };
    const label = `L${p.L} c${chunkLength} before${o.chunksBefore} after${o.chunksAfter}${o.causal ? ' causal' : ''}${mask ? ' mask' : ''}`;
    return [label, p, o] as const;
  });

  it.each(cases)('%s', async (_label, p, o) => {
    const W = rng.normals(p.B * p.H * p.L * p.dv);
    const real = (b: number, t: number) => !o.mask || o.mask[b * p.L + t] !== 0;
    for (const i of rowsWhere(p, p.dv, (b, t) => !real(b, t))) W[i] = 0;
    const q = up(p.q, [p.B, p.H, p.L, p.d]);
    const k = up(p.k, [p.B, p.H, p.L, p.d]);
    const v = up(p.v, [p.B, p.H, p.L, p.dv]);
    const Wt = up(W, [p.B, p.H, p.L, p.dv]);
    const mask = o.mask ? tensor(o.mask, [p.B, p.L], 'int32') : undefined;
    const live = memory().liveTensors;
    let out: Tensor | undefined;
    const { value, grads } = gradients(() => {
      const y = localAttention(q, k, v, { ...o, mask });
      out = keep(y);
      return sum(mul(y, Wt));
    }, [q, k, v]);
    const got = await out!.data();
    const gotGrads = await Promise.all(grads.map((g) => g.data()));
    dispose([value, grads, out]);
    expect(memory().liveTensors).toBe(live);

    const want = referenceLocal(p, o);
    const idx = rowsWhere(p, p.dv, real);
    const cmp = compare(
      idx.map((i) => got[i]!),
      idx.map((i) => want.out[i]!),
      1e-5,
      1e-4,
    );
    expect(cmp.excess, `output max abs ${cmp.maxAbs}`).toBeLessThanOrEqual(0);
    const x = { ...p, q: Float64Array.from(p.q), k: Float64Array.from(p.k), v: Float64Array.from(p.v) };
    const fd = finiteDifferences(() => weightedSum(referenceLocal(x, o, want.shifts).out, W), [x.q, x.k, x.v]);
    fd.forEach((g, j) => {
      const c = compare(gotGrads[j]!, g, 2e-5, 2e-4);
      expect(c.excess, `gradient ${'qkv'[j]} max abs ${c.maxAbs}`).toBeLessThanOrEqual(0);
    });
    dispose([q, k, v, Wt, mask]);
  });
});

describe('localAttention properties', () => {
  it('causal, one chunk before, none after: equals dense attention over the band [chunk start − c, i]', async () => {
    for (const [L, c] of [
      [16, 4],
      [13, 4],
      [10, 3],
    ] as const) {
      const p = problem(2, 2, L, 4, 3);
      const want = referenceDense(p, {
        scale: 1 / Math.sqrt(p.d),
        allowed: (_b, i, j) => j <= i && Math.floor(j / c) >= Math.floor(i / c) - 1,
      }).out;
      const got = await localAttention(up(p.q, [2, 2, L, 4]), up(p.k, [2, 2, L, 4]), up(p.v, [2, 2, L, 3]), {
        chunkLength: c,
        causal: true,
      }).data();
      const cmp = compare(got, want, 1e-5, 1e-4);
      expect(cmp.excess, `L ${L} c ${c}: max abs ${cmp.maxAbs}`).toBeLessThanOrEqual(0);
    }
  });

  it('is causal and invariant to padded content', async () => {
    const [B, H, L, d, dv] = [2, 1, 19, 4, 3];
    const p = problem(B, H, L, d, dv);
    const run = async (x: RefQKV, mask?: Tensor) =>
      Array.from(
        await localAttention(up(x.q, [B, H, L, d]), up(x.k, [B, H, L, d]), up(x.v, [B, H, L, dv]), {
          chunkLength: 4,
          chunksAfter: 1,
          causal: !mask,
          ...(mask ? { mask } : {}),
        }).data(),
      );
    const base = await run(p);
    const future = { ...p, q: Float64Array.from(p.q), k: Float64Array.from(p.k), v: Float64Array.from(p.v) };
    const cut = 8;
    for (let bh = 0; bh < B * H; bh++)
      for (let t = cut + 1; t < L; t++) {
        for (let e = 0; e < d; e++) future.k[(bh * L + t) * d + e] = 5 * rng.normal();
        for (let e = 0; e < dv; e++) future.v[(bh * L + t) * dv + e] = 5 * rng.normal();
      }
    const changed = await run(future);
    const past = rowsWhere(p, dv, (_b, t) => t <= cut);
    expect(past.map((i) => changed[i])).toEqual(past.map((i) => base[i]));
    expect(changed).not.toEqual(base);

    const maskHost = Int32Array.from({ length: B * L }, (_, i) => (i % L < 15 && i !== L + 6 ? 1 : 0));
    const mask = tensor(maskHost, [B, L], 'int32');
    const m0 = await run(p, mask);
    const padded = { ...p, k: Float64Array.from(p.k), v: Float64Array.from(p.v), q: Float64Array.from(p.q) };
    for (let b = 0; b < B; b++)
      for (let t = 0; t < L; t++)
        if (maskHost[b * L + t] === 0) {
          for (let e = 0; e < d; e++) padded.k[(b * L + t) * d + e] = 50 * rng.normal();
          for (let e = 0; e < dv; e++) padded.v[(b * L + t) * dv + e] = 50 * rng.normal();
        }
    const m1 = await run(padded, mask);
    const realRows = rowsWhere(p, dv, (b, t) => maskHost[b * L + t] !== 0);
    expect(realRows.map((i) => m1[i])).toEqual(realRows.map((i) => m0[i]));
  });
});
