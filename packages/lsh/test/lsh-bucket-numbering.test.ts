/**
 * Bucket numbering exactly as Hugging Face's `_hash_vectors`: round r is offset by `r·nBuckets`,
 * and by `r·(nBuckets + 1)` (with padding positions in bucket nBuckets) only when the mask has a 0
 * somewhere in the batch (`attention_mask.sum() < batch·length`). Checked against the brute-force
 * reference for an absent mask, a mask of all ones, and masks with zeros (in one batch row only,
 * and everywhere), with plain and factorised bucket counts; and the replay of those buckets.
 */
import { describe, expect, it } from 'vitest';
import { dispose, tensor } from '@reformer/core';
import { lshAttention } from '../src/lsh-attention.js';
import { Rng, referenceLSH, type RefLSHProblem } from './brute-force.js';

const [B, H, L, d, dv, c, nR] = [2, 2, 12, 4, 3, 4, 3];

function problem(rng: Rng, factors: number[], mask: Int32Array | undefined): RefLSHProblem {
  const rotSize = factors.reduce((a, f) => a + f / 2, 0);
  return {
    B,
    H,
    L,
    d,
    dv,
    qk: rng.normals(B * H * L * d),
    v: rng.normals(B * H * L * dv),
    rotations: rng.normals(H * d * nR * rotSize),
    factors,
    nHashes: nR,
    chunkLength: c,
    chunksBefore: 1,
    chunksAfter: 0,
    causal: false,
    mask,
  };
}

const masks: [string, Int32Array | undefined, boolean][] = [
  ['absent', undefined, false],
  ['all ones', new Int32Array(B * L).fill(1), false],
  ['zeros in the second row only', Int32Array.from({ length: B * L }, (_, i) => (i >= L && i % L >= L - 3 ? 0 : 1)), true],
  ['zeros in every row', Int32Array.from({ length: B * L }, (_, i) => (i % 5 === 2 ? 0 : 1)), true],
];

describe("lshAttention bucket numbering (Hugging Face's round offsets)", () => {
  const rng = new Rng(170003);
  for (const factors of [[4], [2, 4]]) {
    const nb = factors.reduce((a, f) => a * f, 1);
    for (const [name, maskHost, padded] of masks) {
      it(`mask ${name}, nBuckets [${factors.join(', ')}]: buckets equal the reference, stride ${padded ? 'nBuckets + 1' : 'nBuckets'}`, async () => {
        const p = problem(rng, factors, maskHost);
        const want = referenceLSH(p);
        const qk = tensor(Float32Array.from(p.qk), [B, H, L, d]);
        const v = tensor(Float32Array.from(p.v), [B, H, L, dv]);
        const rot = tensor(Float32Array.from(p.rotations), [H, d, nR, factors.reduce((a, f) => a + f / 2, 0)]);
        const mask = maskHost ? tensor(maskHost, [B, L], 'int32') : undefined;
        const options = { chunkLength: c, nHashes: nR, nBuckets: factors.length === 1 ? factors[0]! : factors, ...(mask ? { mask } : {}) };
        const r = lshAttention(qk, v, { ...options, rotations: rot });
        const got = (await r.buckets.data()) as Int32Array;
        expect(Array.from(got)).toEqual(Array.from(want.buckets));
        // The stride, spelled out: round r's buckets lie in [r·stride, r·stride + stride).
        const stride = padded ? nb + 1 : nb;
        for (let i = 0; i < got.length; i++) {
          const round = Math.floor(i / L) % nR;
          expect(got[i]! >= round * stride && got[i]! < (round + 1) * stride).toBe(true);
        }
        if (padded) expect(got.some((x, i) => x === (Math.floor(i / L) % nR) * stride + nb)).toBe(true);
        // Replaying these buckets (same mask) gives the same buckets and output.
        const again = lshAttention(qk, v, { ...options, buckets: r.buckets });
        expect(Array.from((await again.buckets.data()) as Int32Array)).toEqual(Array.from(got));
        expect(await again.output.data()).toEqual(await r.output.data());
        dispose([qk, v, rot, mask, r.output, r.buckets, again.output, again.buckets]);
      });
    }
  }
});
