/**
 * The fused SIMD attention against the CPU reference kernel at the sizes LSH layers use (chunk 64,
 * d 64, permuted positions, buckets, padding mask) and at odd sizes that exercise every padding path
 * of the tiles (chunk 3, d 5, dv 7, windows with duplicated chunks).
 */
import { createCpuBackend, type Backend, type ChunkedAttentionParams, type KernelTensor } from '@reformer/core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WasmBackend } from '../src/index.js';
import { createWasm } from './setup.js';

function random(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 2 * scale;
  }
  return out;
}

interface Problem {
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
  permute: boolean;
  buckets: number;
  mask: boolean;
}

/** Runs forward and backward of `p` on `be`; returns out, lse, dq, dk, dv on the host. */
function run(be: Backend, p: Problem): Float32Array[] {
  const { B, H, N, d, dv } = p;
  const f = (data: Float32Array, shape: number[]): KernelTensor => ({ storage: be.write(data, 'float32'), shape, dtype: 'float32' });
  const i = (data: Int32Array, shape: number[]): KernelTensor => ({ storage: be.write(data, 'int32'), shape, dtype: 'int32' });
  const q = f(random(B * H * N * d, 1, 2), [B, H, N, d]);
  const k = f(random(B * H * N * d, 2, 2), [B, H, N, d]);
  const v = f(random(B * H * N * dv, 3), [B, H, N, dv]);
  const positions = new Int32Array(B * H * N);
  for (let r = 0; r < B * H; r++) {
    const perm = Array.from({ length: N }, (_, j) => j);
    if (p.permute) perm.sort((x, y) => ((x * 7919 + r * 13) % N) - ((y * 7919 + r * 13) % N));
    positions.set(perm, r * N);
  }
  const buckets = Int32Array.from(positions, (x) => (x * 31) % Math.max(1, p.buckets));
  const mask = Int32Array.from({ length: B * N }, (_, j) => (j % 11 === 5 ? 0 : 1));
  const params: ChunkedAttentionParams = {
    chunkLength: p.chunkLength,
    chunksBefore: p.chunksBefore,
    chunksAfter: p.chunksAfter,
    causal: p.causal,
    excludeSelf: p.excludeSelf,
    scale: 0.7,
    positions: p.permute ? i(positions, [B, H, N]) : undefined,
    buckets: p.buckets > 0 ? i(buckets, [B, H, N]) : undefined,
    keyMask: p.mask ? i(mask, [B, N]) : undefined,
  };
  const { out, lse } = be.chunkedAttention!(q, k, v, params);
  const dOut = f(random(B * H * N * dv, 4), [B, H, N, dv]);
  const dLse = f(random(B * H * N, 5), [B, H, N]);
  const g = be.chunkedAttentionBackward!(q, k, v, out, lse, dOut, dLse, params);
  const read = (t: KernelTensor) =>
    be.readSync!(
      t.storage,
      'float32',
      t.shape.reduce((a, b) => a * b, 1),
    ) as Float32Array;
  const result = [out, lse, g.dq, g.dk, g.dv].map(read);
  for (const t of [q, k, v, out, lse, dOut, dLse, g.dq, g.dk, g.dv, params.positions, params.buckets, params.keyMask])
    if (t) be.free(t.storage);
  return result;
}

const problems: [string, Problem][] = [
  [
    'LSH layer: chunk 64, d 64, 2 heads, permuted, buckets, causal, excludeSelf',
    {
      B: 1,
      H: 2,
      N: 512,
      d: 64,
      dv: 64,
      chunkLength: 64,
      chunksBefore: 1,
      chunksAfter: 0,
      causal: true,
      excludeSelf: true,
      permute: true,
      buckets: 4,
      mask: false,
    },
  ],
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
      const got = run(wasm, p);
      const want = run(cpu, p);
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
