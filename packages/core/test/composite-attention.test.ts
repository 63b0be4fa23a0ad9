import { describe, expect, it } from 'vitest';
import type { ChunkedAttentionParams, KernelTensor } from '../src/backend.js';
import { hashAbsorb } from '../src/attention-dropout.js';
import { absorb, atLeast, u32FromHost, u32FromInt, xorTable } from '../src/composite/dropout-hash.js';
import { chunkedAttentionBackwardComposite, chunkedAttentionComposite } from '../src/composite/index.js';
import { kernelScope } from '../src/composite/scope.js';
import { createCpuBackend, type CpuStorage } from '../src/cpu/index.js';
import { expectClose, hostRandom } from './helpers.js';

// Core's composite chunked attention works chunk group by chunk group: its peak memory stays far below
// the logits of the whole sequence, and the grouping does not change the results.
describe('composite chunkedAttention memory is bounded per chunk group', () => {
  const [B, H, N, d] = [1, 2, 2048, 4];
  const c = 16;
  const params: ChunkedAttentionParams = { chunkLength: c, chunksBefore: 2, chunksAfter: 2, causal: true, excludeSelf: false, scale: 0.5 };
  const W = c * 5;
  const wholeLogitsBytes = B * H * N * W * 4;
  const oneChunk = B * H * c * W;

  function setup() {
    const be = createCpuBackend();
    const t = (seed: number): KernelTensor => ({
      storage: be.write(hostRandom(B * H * N * d, seed), 'float32'),
      shape: [B, H, N, d],
      dtype: 'float32',
    });
    return {
      be,
      q: t(1),
      k: t(2),
      v: t(3),
      dOut: t(4),
      dLse: { storage: be.write(hostRandom(B * H * N, 5), 'float32'), shape: [B, H, N], dtype: 'float32' } as KernelTensor,
    };
  }
  const host = (be: ReturnType<typeof createCpuBackend>, t: KernelTensor) =>
    be.readSync(
      t.storage as CpuStorage,
      'float32',
      t.shape.reduce((a, b) => a * b, 1),
    );

  it('forward: peak below the whole logits, outputs identical to one group, nothing left behind', () => {
    const { be, q, k, v } = setup();
    const live0 = be.memory().liveBytes;
    be.resetPeak();
    const grouped = chunkedAttentionComposite(be, q, k, v, params, oneChunk);
    const peak = be.memory().peakBytes - live0;
    expect(peak).toBeLessThan(wholeLogitsBytes / 2);
    const outputBytes = (B * H * N * d + B * H * N) * 4;
    expect(be.memory().liveBytes - live0).toBe(outputBytes);
    const whole = chunkedAttentionComposite(be, q, k, v, params, Infinity);
    expect(Array.from(host(be, grouped.out))).toEqual(Array.from(host(be, whole.out)));
    expect(Array.from(host(be, grouped.lse))).toEqual(Array.from(host(be, whole.lse)));
    const fused = be.chunkedAttention(
      q as KernelTensor<CpuStorage>,
      k as KernelTensor<CpuStorage>,
      v as KernelTensor<CpuStorage>,
      params as ChunkedAttentionParams<CpuStorage>,
    );
    expectClose(host(be, grouped.out), host(be, fused.out), 1e-5, 1e-6, 'out vs fused CPU kernel');
    expectClose(host(be, grouped.lse), host(be, fused.lse), 1e-6, 1e-6, 'lse vs fused CPU kernel');
  });

  it('backward: peak below the whole logits, gradients equal to one group and to the fused CPU kernel', () => {
    const { be, q, k, v, dOut, dLse } = setup();
    const f = chunkedAttentionComposite(be, q, k, v, params);
    const live0 = be.memory().liveBytes;
    be.resetPeak();
    const grouped = chunkedAttentionBackwardComposite(be, q, k, v, f.out, f.lse, dOut, dLse, params, oneChunk);
    expect(be.memory().peakBytes - live0).toBeLessThan(wholeLogitsBytes / 2);
    expect(be.memory().liveBytes - live0).toBe(3 * B * H * N * d * 4);
    const whole = chunkedAttentionBackwardComposite(be, q, k, v, f.out, f.lse, dOut, dLse, params, Infinity);
    const fused = be.chunkedAttentionBackward(
      ...([q, k, v, f.out, f.lse, dOut, dLse] as KernelTensor<CpuStorage>[] as [
        KernelTensor<CpuStorage>,
        KernelTensor<CpuStorage>,
        KernelTensor<CpuStorage>,
        KernelTensor<CpuStorage>,
        KernelTensor<CpuStorage>,
        KernelTensor<CpuStorage>,
        KernelTensor<CpuStorage>,
      ]),
      params as ChunkedAttentionParams<CpuStorage>,
    );
    for (const g of ['dq', 'dk', 'dv'] as const) {
      // dq is computed row by row (identical); dk and dv are summed over groups in another order.
      if (g === 'dq') expect(Array.from(host(be, grouped.dq))).toEqual(Array.from(host(be, whole.dq)));
      else expectClose(host(be, grouped[g]), host(be, whole[g]), 1e-5, 1e-6, `${g} grouped vs one group`);
      expectClose(host(be, grouped[g]), host(be, fused[g]), 1e-4, 1e-5, `${g} vs fused CPU kernel`);
    }
  });
});

// Full attention is one chunk covering the sequence: the composite then splits the chunk's query rows,
// so it never holds the L × L logits either.
describe('composite chunkedAttention over one chunk (full attention) splits its rows', () => {
  it('peak far below L × L logits; forward identical to one group; backward equal to the fused CPU kernel', () => {
    const be = createCpuBackend();
    const [B, H, N, d] = [1, 1, 1024, 4];
    const t = (seed: number, shape: number[]): KernelTensor => ({
      storage: be.write(
        hostRandom(
          shape.reduce((a, b) => a * b, 1),
          seed,
        ),
        'float32',
      ),
      shape,
      dtype: 'float32',
    });
    const [q, k, v, dOut] = [1, 2, 3, 4].map((s) => t(s, [B, H, N, d]));
    const dLse = t(5, [B, H, N]);
    const params: ChunkedAttentionParams = {
      chunkLength: N,
      chunksBefore: 0,
      chunksAfter: 0,
      causal: true,
      excludeSelf: false,
      scale: 0.5,
    };
    const squareBytes = B * H * N * N * 4;
    const budget = 16 * N; // 16 query rows per group
    const live0 = be.memory().liveBytes;
    be.resetPeak();
    const grouped = chunkedAttentionComposite(be, q!, k!, v!, params, budget);
    expect(be.memory().peakBytes - live0).toBeLessThan(squareBytes / 4);
    const g = chunkedAttentionBackwardComposite(be, q!, k!, v!, grouped.out, grouped.lse, dOut!, dLse!, params, budget);
    expect(be.memory().peakBytes - live0).toBeLessThan(squareBytes / 4);
    const host = (x: KernelTensor) =>
      be.readSync(
        x.storage as CpuStorage,
        'float32',
        x.shape.reduce((a, b) => a * b, 1),
      );
    const whole = chunkedAttentionComposite(be, q!, k!, v!, params, Infinity);
    expect(Array.from(host(grouped.out))).toEqual(Array.from(host(whole.out)));
    expect(Array.from(host(grouped.lse))).toEqual(Array.from(host(whole.lse)));
    const C = <T>(x: T) => x as unknown as KernelTensor<CpuStorage>;
    const fused = be.chunkedAttentionBackward(
      C(q),
      C(k),
      C(v),
      C(grouped.out),
      C(grouped.lse),
      C(dOut),
      C(dLse),
      params as ChunkedAttentionParams<CpuStorage>,
    );
    for (const name of ['dq', 'dk', 'dv'] as const)
      expectClose(host(g[name]), host(fused[name]), 1e-4, 1e-5, `${name} vs fused CPU kernel`);
  });
});

// The device-side evaluation of the attention-dropout hash (bytes in int32 tensors, primitives only)
// gives the host definition's bits for any u32 state and any non-negative int32 word.
describe('composite dropout hash on primitives', () => {
  it('absorb and the threshold test equal hashAbsorb / attentionDropoutKeeps bit for bit', () => {
    const be = createCpuBackend();
    const n = 2000;
    const states = new Uint32Array(n);
    const words = new Int32Array(n);
    let s = 12345;
    const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
    for (let i = 0; i < n; i++) {
      states[i] = i < 4 ? [0, 0xffffffff, 0x80000000, 1][i]! : next();
      words[i] = i < 4 ? [0, 0x7fffffff, 1, 65535][i]! : next() >>> 1;
    }
    const threshold = Math.floor(0.37 * 2 ** 32);
    const r = kernelScope(be, [], (k) => {
      const h = absorb(k, xorTable(k), u32FromHost(k, states, [n]), u32FromInt(k, k.write(words, [n], 'int32')));
      return { b0: h[0], b1: h[1], b2: h[2], b3: h[3], keep: atLeast(k, h, threshold) };
    });
    const read = (t: KernelTensor) => be.readSync(t.storage as CpuStorage, 'int32', n);
    const [b0, b1, b2, b3, keeps] = [r.b0, r.b1, r.b2, r.b3, r.keep].map(read) as Int32Array[];
    for (let i = 0; i < n; i++) {
      const want = hashAbsorb(states[i]!, words[i]!);
      expect((b0![i]! | (b1![i]! << 8) | (b2![i]! << 16) | (b3![i]! << 24)) >>> 0, `hash of case ${i}`).toBe(want);
      expect(keeps![i], `keep of case ${i}`).toBe(want >= threshold ? 1 : 0);
    }
    // Only the five results are alive: every intermediate was freed.
    expect(be.memory().liveBytes).toBe(5 * n * 4);
  });
});
