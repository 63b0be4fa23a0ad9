/**
 * The fused SIMD attention against the CPU reference kernel at the sizes LSH layers use (chunk 64,
 * d 64, permuted positions, buckets, padding mask) and at odd sizes that exercise every padding path
 * of the tiles (chunk 3, d 5, dv 7, windows with duplicated chunks).
 */
import { createCpuBackend } from '@reformer/core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WasmBackend } from '../src/index.js';
import { type AttentionProblem, LSH_LIKE, runAttention } from './helpers.js';
import { createWasm } from './setup.js';

const problems: [string, AttentionProblem][] = [
  ['LSH layer: chunk 64, d 64, 2 heads, permuted, buckets, causal, excludeSelf', LSH_LIKE],
  [
    'padding mask, chunk 32, before 1 after 1, d 32 dv 48',
    {
      B: 2,
      H: 1,
      N: 256,
      d: 32,
      dv: 48,
      chunkLength: 32,
      chunksBefore: 1,
      chunksAfter: 1,
      causal: false,
      excludeSelf: false,
      permute: true,
      buckets: 0,
      mask: true,
    },
  ],
  [
    'odd sizes: chunk 3, d 5, dv 7, before 2 after 1 (duplicated chunks)',
    {
      B: 1,
      H: 2,
      N: 6,
      d: 5,
      dv: 7,
      chunkLength: 3,
      chunksBefore: 2,
      chunksAfter: 1,
      causal: false,
      excludeSelf: true,
      permute: false,
      buckets: 0,
      mask: false,
    },
  ],
  [
    'one chunk covering the sequence, causal, d 9',
    {
      B: 1,
      H: 1,
      N: 40,
      d: 9,
      dv: 9,
      chunkLength: 40,
      chunksBefore: 0,
      chunksAfter: 0,
      causal: true,
      excludeSelf: false,
      permute: false,
      buckets: 0,
      mask: true,
    },
  ],
];

describe('chunkedAttention (SIMD tiles) against the CPU reference kernel', () => {
  let wasm: WasmBackend;
  const cpu = createCpuBackend();
  beforeAll(async () => {
    wasm = await createWasm();
  });
  for (const [name, p] of problems) {
    it(name, () => {
      const got = runAttention(wasm, p);
      const want = runAttention(cpu, p);
      const names = ['out', 'lse', 'dq', 'dk', 'dv'];
      got.forEach((g, j) => {
        const w = want[j]!;
        let worst = 0;
        let mag = 0;
        for (let e = 0; e < g.length; e++) {
          worst = Math.max(worst, Math.abs(g[e]! - w[e]!));
          mag = Math.max(mag, Math.abs(w[e]!));
        }
        // float32 accumulation (the reference accumulates in doubles): relative to the largest value.
        expect(worst, `${names[j]} (largest |value| ${mag})`).toBeLessThanOrEqual(1e-5 * Math.max(1, mag));
      });
      expect(wasm.memory().liveBytes).toBe(0);
    });
  }
});
