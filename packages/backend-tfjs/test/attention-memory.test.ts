/**
 * chunkedAttention forward + backward works in chunk groups: tfjs's own byte accounting (`tf.profile`'s
 * peakBytes, every tensor tfjs holds, intermediates included) stays under a bound computed from the
 * shapes — a few full-size [B·H·N, d] copies plus a few group-sized logit blocks — at L and at 2L,
 * where holding the whole window logits [B·H·N, W] even once would not fit.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import type { ChunkedAttentionParams, KernelTensor } from '@reformer/core';
import { describe, expect, it } from 'vitest';
import { createTfjsBackend, type AttentionStrategy, type TfjsBackend, type TfjsStorage } from '../src/index.js';
import './setup-wasm.js';

const B = 1;
const H = 2;
const C = 32;
const D = 1; // d = dv = 1: the full-size tensors are small next to the W-wide logits
const BEFORE = 3;
const W = (BEFORE + 1) * C; // chunksBefore 3, chunksAfter 0
const GROUP_BYTES = 16 * 1024;
/**
 * Full-size handles and group-sized blocks the kernels may hold at once. tfjs's numBytes counts every
 * tensor handle, reshape views included, so the inputs' views, the outputs and the backward's shift
 * and scatter terms add up to well over a handful of full-size tensors in this accounting.
 */
const FULL_COPIES = 24;
const GROUP_BLOCKS = 16;

function values(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

/** Peak tfjs bytes allocated above the inputs by one forward and one backward call. */
async function peakOf(be: TfjsBackend, N: number): Promise<number> {
  const shape = [B, H, N, D];
  const t = (n: number, seed: number, sh: number[]): KernelTensor<TfjsStorage> => ({
    storage: be.write(values(n, seed), 'float32'),
    shape: sh,
    dtype: 'float32',
  });
  const S = B * H * N;
  const [q, k, v, dOut] = [1, 2, 3, 4].map((seed) => t(S * D, seed, shape)) as KernelTensor<TfjsStorage>[];
  const dLse = t(S, 5, [B, H, N]);
  const params: ChunkedAttentionParams<TfjsStorage> = {
    chunkLength: C,
    chunksBefore: BEFORE,
    chunksAfter: 0,
    causal: true,
    excludeSelf: true,
    scale: 0.5,
  };
  const start = tf.memory().numBytes;
  const prof = await tf.profile(() => {
    const { out, lse } = be.chunkedAttention(q!, k!, v!, params);
    const g = be.chunkedAttentionBackward(q!, k!, v!, out, lse, dOut!, dLse, params);
    for (const x of [out, lse, g.dq, g.dk, g.dv]) be.free(x.storage);
    return tf.scalar(0);
  });
  for (const x of [q, k, v, dOut, dLse]) be.free(x!.storage);
  (prof.result as tf.Tensor).dispose();
  expect(prof.kernels.length).toBeGreaterThan(0);
  return prof.peakBytes - start;
}

describe('chunkedAttention memory is bounded by chunk groups (tfjs byte accounting)', () => {
  for (const [backendName, strategy] of [
    ['wasm', 'band'],
    ['wasm', 'batched'],
    ['cpu', 'batched'],
  ] as [string, AttentionStrategy][]) {
    it(`${backendName}, ${strategy}: peak at L and 2L within the shape bound`, async () => {
      const be = await createTfjsBackend({ tf, backendName, attentionStrategy: strategy, attentionGroupBytes: GROUP_BYTES });
      const peaks: number[] = [];
      for (const N of [2048, 4096]) {
        const S = B * H * N;
        const full = 4 * S * (D + 1); // one [B·H·N, d] float32 tensor and one per-slot scalar ([B·H·N])
        const bound = FULL_COPIES * full + GROUP_BLOCKS * GROUP_BYTES;
        const windowLogits = 4 * S * W; // the whole-window logits, once
        expect(windowLogits).toBeGreaterThan(bound); // so the bound excludes building them
        const peak = await peakOf(be, N);
        expect(peak, `N ${N}: peak ${peak} B, bound ${bound} B`).toBeLessThanOrEqual(bound);
        peaks.push(peak);
      }
      // Linear growth with the same small constant: doubling L adds at most FULL_COPIES full tensors of L.
      expect(peaks[1]! - peaks[0]!).toBeLessThanOrEqual(FULL_COPIES * 4 * B * H * 2048 * (D + 1));
      expect(be.memory().liveBytes).toBe(0);
      // A hang guard, not a speed check: ~10 s alone, several times that beside other packages' tests.
    }, 180_000);
  }
});
