/**
 * The optimised lshAttention (sort + gather + fused kernel + autograd) against the plain float64
 * brute-force reference of test/brute-force.ts over random configurations: causal or not, 1–4
 * hashes, integer and factorised bucket counts, 0–2 chunks before/after, padding masks, lengths that
 * are not multiples of the chunk, sameBucketOnly, dedupe. Same rotations for both. Buckets, sort
 * permutation and per-round logsumexps must agree, the outputs to float32 accuracy, and the input
 * gradients of Σ W·output to the reference's central finite differences (with the float32 logsumexp
 * rounding of docs/attention-semantics.md §6 frozen).
 */
import { describe, expect, it } from 'vitest';
import { gradients, keep, memory, mul, sum, tensor, dispose, split, type Tensor } from '@reformer/core';
import { lshAttention, type LSHAttentionOptions } from '../src/lsh-attention.js';
import { Rng, compare, finiteDifferences, referenceLSH, weightedSum, type RefLSHProblem } from './brute-force.js';

interface Case extends RefLSHProblem {
  label: string;
  /** Pass the factorised rotations as one tensor per factor (else one concatenated tensor). */
  splitRotations: boolean;
}

function makeCase(rng: Rng, i: number): Case {
  const B = rng.int(1, 2);
  const H = rng.int(1, 2);
  const d = rng.pick([3, 4, 6]);
  const dv = rng.pick([2, 3, 5]);
  const chunkLength = rng.int(2, 5);
  const nHashes = (i % 4) + 1; // every round count 1–4, five times each
  const factors = rng.pick([[2], [4], [6], [8], [2, 4], [4, 2], [2, 2, 2]]);
  const L = rng.int(chunkLength + 1, 4 * chunkLength + 1);
  const chunksBefore = rng.int(0, 2);
  const chunksAfter = rng.int(0, 2);
  const causal = i % 2 === 0;
  let mask: Int32Array | undefined;
  if (rng.bool(0.5)) {
    mask = new Int32Array(B * L).fill(1);
    for (let b = 0; b < B; b++) {
      // Right padding of random size, plus the odd masked position inside.
      const pad = rng.int(0, Math.floor(L / 3));
      for (let t = L - pad; t < L; t++) mask[b * L + t] = 0;
      if (rng.bool(0.3)) mask[b * L + rng.int(1, L - 1)] = 0;
    }
  }
  const rotSize = factors.reduce((a, f) => a + f / 2, 0);
  const c: Case = {
    label: '',
    B,
    H,
    L,
    d,
    dv,
    qk: rng.normals(B * H * L * d),
    v: rng.normals(B * H * L * dv),
    rotations: rng.normals(H * d * nHashes * rotSize),
    factors,
    nHashes,
    chunkLength,
    chunksBefore,
    chunksAfter,
    causal,
    mask,
    sameBucketOnly: i % 5 === 3,
    dedupe: i % 3 === 2,
    splitRotations: factors.length > 1 && rng.bool(0.5),
    // Attention-probability dropout on a third of the cases (not with dedupe, which refuses it).
    dropout: i % 3 === 1 ? { rate: [0.1, 0.3, 0.5][(i % 5) % 3]!, seed: 1_000_003 * (i + 1) } : undefined,
  };
  c.label =
    `#${i} B${B} H${H} L${L} d${d} dv${dv} c${chunkLength} nR${nHashes} nb[${factors.join(',')}] ` +
    `before${chunksBefore} after${chunksAfter}${causal ? ' causal' : ''}${mask ? ' mask' : ''}` +
    `${c.sameBucketOnly ? ' sameBucketOnly' : ''}${c.dedupe ? ' dedupe' : ''}${c.splitRotations ? ' split-rotations' : ''}` +
    `${c.dropout ? ` dropout ${c.dropout.rate}` : ''}`;
  return c;
}

interface Run {
  out: Float32Array;
  buckets: Int32Array;
  lse: Float32Array;
  sortIndices: Int32Array;
  gQK: Float32Array;
  gV: Float32Array;
}

async function runLibrary(c: Case, weights: Float64Array): Promise<Run> {
  const qk = tensor(Float32Array.from(c.qk), [c.B, c.H, c.L, c.d]);
  const v = tensor(Float32Array.from(c.v), [c.B, c.H, c.L, c.dv]);
  const rotSize = c.factors.reduce((a, f) => a + f / 2, 0);
  const rotAll = tensor(Float32Array.from(c.rotations), [c.H, c.d, c.nHashes, rotSize]);
  const rotations: Tensor | Tensor[] = c.splitRotations
    ? split(
        rotAll,
        c.factors.map((f) => f / 2),
        3,
      )
    : rotAll;
  const mask = c.mask ? tensor(c.mask, [c.B, c.L], 'int32') : undefined;
  const W = tensor(Float32Array.from(weights), [c.B, c.H, c.L, c.dv]);
  const options: LSHAttentionOptions = {
    chunkLength: c.chunkLength,
    nHashes: c.nHashes,
    nBuckets: c.factors.length === 1 ? c.factors[0]! : c.factors,
    chunksBefore: c.chunksBefore,
    chunksAfter: c.chunksAfter,
    causal: c.causal,
    rotations,
    sameBucketOnly: c.sameBucketOnly ?? false,
    dedupe: c.dedupe ?? false,
    inspect: true,
    ...(mask ? { mask } : {}),
    ...(c.dropout ? { dropout: c.dropout } : {}),
  };
  const kept: Tensor[] = [];
  const { value, grads } = gradients(() => {
    const r = lshAttention(qk, v, options);
    kept.push(keep(r.output), keep(r.buckets), keep(r.lse!), keep(r.sortIndices!));
    return sum(mul(r.output, W));
  }, [qk, v]);
  const [out, buckets, lse, sortIndices] = kept as [Tensor, Tensor, Tensor, Tensor];
  expect(out.shape).toEqual([c.B, c.H, c.L, c.dv]);
  expect(buckets.shape).toEqual([c.B, c.H, c.nHashes, c.L]);
  expect(lse.shape).toEqual([c.B, c.H, c.nHashes, c.L]);
  expect(sortIndices.shape).toEqual([c.B, c.H, c.nHashes * c.L]);
  const run: Run = {
    out: (await out.data()) as Float32Array,
    buckets: (await buckets.data()) as Int32Array,
    lse: (await lse.data()) as Float32Array,
    sortIndices: (await sortIndices.data()) as Int32Array,
    gQK: (await grads[0]!.data()) as Float32Array,
    gV: (await grads[1]!.data()) as Float32Array,
  };
  dispose([value, grads, kept, qk, v, rotAll, rotations, mask, W]);
  return run;
}

describe('lshAttention against the brute-force reference', () => {
  const rng = new Rng(20240611);
  const cases = Array.from({ length: 20 }, (_, i) => makeCase(rng, i));

  it.each(cases.map((c) => [c.label, c] as const))('%s', async (_label, c) => {
    const live = memory().liveTensors;
    // Weights: zero on masked positions (their outputs are meaningless by contract).
    const weights = rng.normals(c.B * c.H * c.L * c.dv);
    if (c.mask) {
      for (let b = 0; b < c.B; b++)
        for (let h = 0; h < c.H; h++)
          for (let t = 0; t < c.L; t++)
            if (c.mask[b * c.L + t] === 0) weights.fill(0, ((b * c.H + h) * c.L + t) * c.dv, ((b * c.H + h) * c.L + t + 1) * c.dv);
    }
    const got = await runLibrary(c, weights);
    expect(memory().liveTensors).toBe(live);

    const want = referenceLSH(c);
    expect(Array.from(got.buckets)).toEqual(Array.from(want.buckets));
    expect(Array.from(got.sortIndices)).toEqual(Array.from(want.sortIndices));
    // Outputs and logsumexps at real positions (masked rows hold meaningless values by contract).
    const realRows = (n: number, rounds: number) => {
      const keepIdx: number[] = [];
      for (let b = 0; b < c.B; b++)
        for (let h = 0; h < c.H; h++)
          for (let r = 0; r < rounds; r++)
            for (let t = 0; t < c.L; t++)
              if (!c.mask || c.mask[b * c.L + t] !== 0)
                for (let e = 0; e < n; e++) keepIdx.push((((b * c.H + h) * rounds + r) * c.L + t) * n + e);
      return keepIdx;
    };
    const outIdx = realRows(c.dv, 1);
    const outCmp = compare(
      outIdx.map((i) => got.out[i]!),
      outIdx.map((i) => want.out[i]!),
      2e-5,
      1e-4,
    );
    expect(outCmp.excess, `output max abs ${outCmp.maxAbs}`).toBeLessThanOrEqual(0);
    const lseIdx = realRows(1, c.nHashes);
    const lseCmp = compare(
      lseIdx.map((i) => got.lse[i]!),
      lseIdx.map((i) => want.lse[i]!),
      1e-5,
      2e-8,
    );
    expect(lseCmp.excess, `lse max abs ${lseCmp.maxAbs}`).toBeLessThanOrEqual(0);

    // Gradients: central differences of the reference with buckets and float32 roundings frozen.
    const qk = Float64Array.from(c.qk);
    const v = Float64Array.from(c.v);
    const f = () => weightedSum(referenceLSH({ ...c, qk, v }, want.frozen).out, weights);
    const [gQK, gV] = finiteDifferences(f, [qk, v]);
    const gq = compare(got.gQK, gQK!, 2e-5, 2e-4);
    const gv = compare(got.gV, gV!, 2e-5, 2e-4);
    if (process.env.LSH_DEBUG) console.log(c.label, 'out', outCmp.maxAbs, 'lse', lseCmp.maxAbs, 'gqk', gq.maxAbs, 'gv', gv.maxAbs);
    expect(gq.excess, `d qk max abs ${gq.maxAbs} at ${gq.at}`).toBeLessThanOrEqual(0);
    expect(gv.excess, `d v max abs ${gv.maxAbs} at ${gv.at}`).toBeLessThanOrEqual(0);
  });
});
