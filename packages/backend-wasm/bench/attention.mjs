// Useful arithmetic rate of the fused chunked attention next to our own matmul, in one process:
// `node bench/attention.mjs [slots, default 65536]` (build first). The attention's useful work is
// 2·W·(d + dv) flops per query forward (Q·Kᵀ and P·V over its W window keys), twice that backward.
import { createWasmBackend } from '@reformer/backend-wasm/node';

const N = Number(process.argv[2] ?? 65536);
const d = 64;
const c = 64;
const be = await createWasmBackend({ threads: 1 });
const rand = (n) => Float32Array.from({ length: n }, () => Math.random() - 0.5);
const put = (n, shape) => ({ storage: be.write(rand(n), 'float32'), shape, dtype: 'float32' });

/**
 * Median seconds of `fn`, as CPU time of this process (user + system): on a machine shared with other
 * work, wall time mostly measures the others; the kernels are single-threaded, so CPU time is theirs.
 */
function median(fn, minMs = 1500) {
  fn();
  const times = [];
  const start = performance.now();
  while (times.length < 3 || performance.now() - start < minMs) {
    const t0 = process.cpuUsage();
    fn();
    const t = process.cpuUsage(t0);
    times.push((t.user + t.system) / 1e3);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] / 1000;
}

const q = put(N * d, [1, 1, N, d]);
const k = put(N * d, [1, 1, N, d]);
const v = put(N * d, [1, 1, N, d]);
const params = { chunkLength: c, chunksBefore: 1, chunksAfter: 0, causal: true, excludeSelf: true, scale: 1 };
const W = 2 * c;
const fwdFlops = 2 * N * W * (d + d);
const fwd = median(() => {
  const r = be.chunkedAttention(q, k, v, params);
  be.free(r.out.storage);
  be.free(r.lse.storage);
});
const { out, lse } = be.chunkedAttention(q, k, v, params);
const dOut = put(N * d, [1, 1, N, d]);
const dLse = put(N, [1, 1, N]);
const bwd = median(() => {
  const g = be.chunkedAttentionBackward(q, k, v, out, lse, dOut, dLse, params);
  for (const t of [g.dq, g.dk, g.dv]) be.free(t.storage);
});
const n = 512;
const a = put(n * n, [n, n]);
const b = put(n * n, [n, n]);
const mm = median(() => be.free(be.matmul(a, b, false, false, [n, n]).storage));
const mmRate = (2 * n ** 3) / mm / 1e9;
console.log(`wasm kernels: ${be.kernelFeatures.variant}; ${N} slots, chunk ${c}, window ${W}, d ${d}`);
console.log(`| kernel | CPU ms | useful GFLOP/s | / matmul 512³ |`);
console.log(`|---|---:|---:|---:|`);
console.log(`| matmul 512³ | ${(mm * 1e3).toFixed(1)} | ${mmRate.toFixed(1)} | 1.00 |`);
console.log(
  `| attention forward | ${(fwd * 1e3).toFixed(1)} | ${(fwdFlops / fwd / 1e9).toFixed(1)} | ${(fwdFlops / fwd / 1e9 / mmRate).toFixed(2)} |`,
);
console.log(
  `| attention backward | ${(bwd * 1e3).toFixed(1)} | ${((2 * fwdFlops) / bwd / 1e9).toFixed(1)} | ${((2 * fwdFlops) / bwd / 1e9 / mmRate).toFixed(2)} |`,
);
