/**
 * The tiled chunked-attention kernels on shapes the conformance suite's small cases do not reach:
 * head sizes that take the exact (unrolled) path (16, 32) and capped ones (12, 20), chunks longer than
 * one workgroup (80 slots = two workgroups per chunk), windows longer than one staged tile, with
 * positions, a padding mask and buckets — forward and every gradient against the CPU backend, on both
 * of Mesa's adapters.
 */
import {
  argSort,
  cast,
  chunkedAttention,
  gradients,
  mul,
  randomNormal,
  randomUniform,
  reshape,
  scalar,
  seedScope,
  sum,
  tidy,
  add,
  type Tensor,
} from '@reformer/core';
import { expect, it } from 'vitest';
import { cpu, expectClose, host, onBackend } from './helpers.js';
import { describeEachAdapter } from './setup.js';

interface Spec {
  B: number;
  H: number;
  N: number;
  d: number;
  dv: number;
  chunkLength: number;
  chunksBefore: number;
  chunksAfter: number;
  causal: boolean;
  excludeSelf: boolean;
  extras: boolean;
}

function run(s: Spec): Tensor[] {
  return tidy(() => {
    const q = seedScope(1, () => randomNormal([s.B, s.H, s.N, s.d]));
    const k = seedScope(2, () => randomNormal([s.B, s.H, s.N, s.d]));
    const v = seedScope(3, () => randomNormal([s.B, s.H, s.N, s.dv]));
    const wOut = seedScope(4, () => randomNormal([s.B, s.H, s.N, s.dv]));
    const wLse = seedScope(5, () => randomNormal([s.B, s.H, s.N]));
    const extras = s.extras
      ? {
          // A random permutation of the positions per (batch, head), a padding mask and 3 buckets.
          positions: cast(reshape(argSort(seedScope(6, () => randomUniform([s.B, s.H, s.N]))), [s.B, s.H, s.N]), 'int32'),
          keyMask: cast(
            seedScope(7, () => randomUniform([s.B, s.N], { min: 0.2, max: 1.2 })),
            'int32',
          ),
          buckets: cast(
            mul(
              seedScope(8, () => randomUniform([s.B, s.H, s.N])),
              scalar(3),
            ),
            'int32',
          ),
        }
      : {};
    const { value, grads } = gradients(() => {
      const { out, lse } = chunkedAttention(q, k, v, { ...s, scale: 1 / Math.sqrt(s.d), ...extras });
      return add(sum(mul(out, wOut)), sum(mul(lse, wLse)));
    }, [q, k, v]);
    return [value, ...grads];
  });
}

const specs: Spec[] = [
  { B: 1, H: 2, N: 96, d: 16, dv: 32, chunkLength: 16, chunksBefore: 1, chunksAfter: 1, causal: false, excludeSelf: false, extras: false },
  { B: 2, H: 1, N: 160, d: 12, dv: 20, chunkLength: 80, chunksBefore: 1, chunksAfter: 0, causal: true, excludeSelf: true, extras: true },
  { B: 1, H: 1, N: 128, d: 32, dv: 16, chunkLength: 32, chunksBefore: 2, chunksAfter: 1, causal: true, excludeSelf: true, extras: true },
];

describeEachAdapter((gpu) => {
  for (const s of specs) {
    it(`chunkedAttention forward + gradients: N ${s.N} d ${s.d} dv ${s.dv} chunk ${s.chunkLength} window ${s.chunksBefore}+1+${s.chunksAfter}${s.extras ? ' positions, keyMask, buckets' : ''}`, async () => {
      const want = await host(await onBackend(cpu, () => run(s)));
      const got = await host(await onBackend(gpu(), () => run(s)));
      expect(got.length).toBe(4);
      expectClose(got, want, 1e-4, 'attention');
    });
  }
});
