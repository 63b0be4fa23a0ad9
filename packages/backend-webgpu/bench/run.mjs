#!/usr/bin/env node
// The @reformer/backend-webgpu benchmark (a program that prints figures, not a test).
//
//   pnpm --filter @reformer/backend-webgpu bench            # after `pnpm build`; short default run
//   pnpm --filter @reformer/backend-webgpu bench -- --large # the sizes (for a real GPU)
//
// It creates the Node backend of the BUILT package (dist/node.js: Vulkan / a real GPU if Dawn finds one,
// else Mesa's llvmpipe through OpenGL ES) and measures:
//   - GFLOP/s of batched matmul (square sizes);
//   - GB/s of element-wise add (read 2, write 1 float32 per element);
//   - the fused chunked-attention kernels (forward, backward) and a whole LSH attention forward +
//     backward through @reformer/lsh (hashing, sort, attention, unsort, gradients).
// Kernel figures come from GPU timestamp queries when the adapter has `timestamp-query`, wall time
// (submit → `onSubmittedWorkDone`) otherwise; the LSH figure is always wall time of the whole step.
// Every figure is the median of the timed runs after one warm-up.
//
// On an adapter with `shader-f16` the matmul lines are repeated with `matmulPrecision: 'f16'` (float16
// workgroup tiles).
//
// Flags: --large (matmul 1024–4096, add 2^24, LSH 64K tokens × 8 heads × dHead 64), --repeats N,
// --peak-gflops X (the card's FP32 peak: matmul lines then also print the fraction of it),
// --adapter vulkan|opengles (Dawn's backend; default: Dawn's default adapter, else OpenGL ES).

import { performance } from 'node:perf_hooks';
import { add, gradients, matmul, mul, randomNormal, seedScope, setBackend, sum, tidy } from '@reformer/core';
import { lshAttention } from '@reformer/lsh';
import { createNodeWebGPUBackend } from '../dist/node.js';

const argv = process.argv.slice(2);
const large = argv.includes('--large');
const repeatsAt = argv.indexOf('--repeats');
const repeats = repeatsAt >= 0 ? Math.max(1, Number(argv[repeatsAt + 1]) || 1) : 3;
const peakAt = argv.indexOf('--peak-gflops');
const peak = peakAt >= 0 ? Number(argv[peakAt + 1]) : undefined;
const ofPeak = (gflops) => (peak ? ` (${((100 * gflops) / peak).toFixed(1)}% of ${peak} GFLOP/s peak)` : '');
const adapterAt = argv.indexOf('--adapter');
const nodeOptions = adapterAt >= 0 ? { flags: [`backend=${argv[adapterAt + 1]}`] } : {};

const be = await createNodeWebGPUBackend(nodeOptions);
await setBackend(be);
const info = be.adapterInfo;
const adapterName = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') || 'unknown adapter';
const timing = be.hasTimestamps ? 'GPU timestamp queries' : 'wall time (no timestamp-query on this adapter)';
console.log(`@reformer/backend-webgpu bench — adapter: ${adapterName} (Dawn backend: ${info.backend ?? '?'}); kernel timing: ${timing}`);
console.log(`node ${process.version}, ${large ? 'large' : 'default (short)'} sizes, median of ${repeats} runs after 1 warm-up\n`);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** ms of the kernels `record` enqueues: GPU timestamps when available, else wall time to completion. */
async function kernelMs(record, backend = be) {
  if (backend.hasTimestamps) {
    let outs;
    const ms = await backend.runtime.gpuTime(() => (outs = record()));
    for (const t of [outs].flat()) t.dispose();
    return ms;
  }
  await backend.sync();
  const t0 = performance.now();
  const outs = record();
  await backend.sync();
  const ms = performance.now() - t0;
  for (const t of [outs].flat()) t.dispose();
  return ms;
}

async function measure(record, backend = be) {
  await kernelMs(record, backend);
  const times = [];
  for (let i = 0; i < repeats; i++) times.push(await kernelMs(record, backend));
  return median(times);
}

const rows = [];
const report = (what, ms, figure) => {
  rows.push([what, ms, figure]);
  console.log(`${what.padEnd(58)} ${ms.toFixed(2).padStart(10)} ms   ${figure}`);
};

// ---- matmul (float32 tiles, then float16 tiles where the adapter has shader-f16) ----
const matmulBackends = [[be, '']];
if (be.kernelFeatures.shaderF16Available) matmulBackends.push([await createNodeWebGPUBackend({ ...nodeOptions, matmulPrecision: 'f16' }), ' (f16 tiles)']);
for (const [backend, label] of matmulBackends) {
  await setBackend(backend);
  for (const n of large ? [1024, 2048, 4096] : [256, 512]) {
    const a = seedScope(1, () => randomNormal([n, n]));
    const b = seedScope(2, () => randomNormal([n, n]));
    const ms = await measure(() => matmul(a, b), backend);
    const gflops = (2 * n ** 3) / (ms * 1e6);
    report(`matmul ${n}×${n}·${n}×${n}${label}`, ms, `${gflops.toFixed(2)} GFLOP/s${ofPeak(gflops)}`);
    a.dispose();
    b.dispose();
  }
  const [B, n] = large ? [64, 512] : [8, 128];
  const a = seedScope(3, () => randomNormal([B, n, 64]));
  const b = seedScope(4, () => randomNormal([B, 64, n]));
  const ms = await measure(() => matmul(a, b), backend);
  report(`batched matmul ${B}×[${n}×64·64×${n}] (attention-shaped)${label}`, ms, `${((2 * B * n * n * 64) / (ms * 1e6)).toFixed(2)} GFLOP/s`);
  a.dispose();
  b.dispose();
  if (backend !== be) backend.dispose();
}
await setBackend(be);

// ---- element-wise ----
{
  const n = large ? 1 << 24 : 1 << 20;
  const a = seedScope(5, () => randomNormal([n]));
  const b = seedScope(6, () => randomNormal([n]));
  const ms = await measure(() => add(a, b));
  report(`add 2^${Math.log2(n)} float32`, ms, `${((3 * 4 * n) / (ms * 1e6)).toFixed(2)} GB/s`);
  a.dispose();
  b.dispose();
}

// ---- chunked attention kernels and LSH attention ----
{
  const [B, H, L, d, chunk, nHashes] = large ? [1, 8, 65536, 64, 64, 2] : [1, 2, 1024, 64, 64, 2];
  const N = L * nHashes;
  const q = seedScope(7, () => randomNormal([B, H, N, d]));
  const k = seedScope(8, () => randomNormal([B, H, N, d]));
  const v = seedScope(9, () => randomNormal([B, H, N, d]));
  const prm = { chunkLength: chunk, chunksBefore: 1, chunksAfter: 0, causal: false, excludeSelf: true, scale: 1 };
  const T = (t) => ({ storage: t.ref().storage, shape: t.shape, dtype: t.dtype });
  const wrap = (kt) => ({ dispose: () => be.free(kt.storage) });
  const W = chunk * 2;
  const fwdFlops = 2 * B * H * N * W * (2 * d);
  const fwd = await measure(() => {
    const r = be.chunkedAttention(T(q), T(k), T(v), prm);
    return [wrap(r.out), wrap(r.lse)];
  });
  report(`chunkedAttention forward [${B},${H},${N},${d}] window ${W}`, fwd, `${(fwdFlops / (fwd * 1e6)).toFixed(2)} GFLOP/s`);
  const r0 = be.chunkedAttention(T(q), T(k), T(v), prm);
  const dOut = seedScope(10, () => randomNormal([B, H, N, d]));
  const dLse = seedScope(11, () => randomNormal([B, H, N]));
  const bwd = await measure(() => {
    const g = be.chunkedAttentionBackward(T(q), T(k), T(v), r0.out, r0.lse, T(dOut), T(dLse), prm);
    return [wrap(g.dq), wrap(g.dk), wrap(g.dv)];
  });
  report(`chunkedAttention backward (dq, dk, dv)`, bwd, `${((2 * fwdFlops) / (bwd * 1e6)).toFixed(2)} GFLOP/s`);
  be.free(r0.out.storage);
  be.free(r0.lse.storage);
  for (const t of [q, k, v, dOut, dLse]) t.dispose();

  const qk = seedScope(12, () => randomNormal([B, H, L, d]));
  const vv = seedScope(13, () => randomNormal([B, H, L, d]));
  const dy = seedScope(14, () => randomNormal([B, H, L, d]));
  const step = async () => {
    await be.sync();
    const t0 = performance.now();
    const outs = tidy(() => {
      // nBuckets 'auto' (Hugging Face's choice: about 2·L/chunk, factorised at long lengths).
      const { value, grads } = gradients(() => sum(mul(lshAttention(qk, vv, { chunkLength: chunk, nHashes, seed: 1 }).output, dy)), [qk, vv]);
      return [value, ...grads];
    });
    await be.sync();
    const ms = performance.now() - t0;
    for (const t of outs) t.dispose();
    return ms;
  };
  await step();
  const times = [];
  for (let i = 0; i < repeats; i++) times.push(await step());
  const lshMs = median(times);
  report(`lshAttention fwd+bwd ${L} tokens × ${H} heads × dHead ${d}, ${nHashes} hashes (wall)`, lshMs, `${((B * L) / lshMs).toFixed(1)} k tokens/s`);
  for (const t of [qk, vv, dy]) t.dispose();
}

const m = be.memory();
console.log(`\npipelines compiled: ${m.pipelines}; live bytes at the end: ${m.liveBytes}; pooled bytes: ${m.pooledBytes}`);
be.dispose();
process.exit(0);
