// Matmul GFLOP/s of @reformer/backend-wasm next to tfjs-wasm (XNNPACK, one thread) and the CPU
// reference, in one process: `pnpm --filter @reformer/backend-wasm bench` (build first).
// Prints a markdown table. Usage: node bench/matmul.mjs [sizes, default 256,512,1024]
// Rates are from CPU time of the process (user + system), which on a machine shared with other work
// measures the kernel rather than the queue for a core; all three run on this one thread.
import { createCpuBackend } from '@reformer/core';
import * as tf from '@tensorflow/tfjs-core';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createTfjsBackend } from '@reformer/backend-tfjs';
import { wasmPathsForNode } from '@reformer/backend-tfjs/node';
import { createWasmBackend } from '@reformer/backend-wasm/node';

const sizes = (process.argv[2] ?? '256,512,1024').split(',').map(Number);
setWasmPaths(wasmPathsForNode());
setThreadsCount(1);

function random(n, seed) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

/** Median CPU seconds of `matmul` n×n×n on `be`, with one warm-up and at least 0.5 s of timed runs. */
async function time(be, n) {
  const a = { storage: be.write(random(n * n, 1), 'float32'), shape: [n, n], dtype: 'float32' };
  const b = { storage: be.write(random(n * n, 2), 'float32'), shape: [n, n], dtype: 'float32' };
  const once = async () => {
    const t0 = process.cpuUsage();
    const c = be.matmul(a, b, false, false, [n, n]);
    await be.read(c.storage, 'float32', 1); // waits for the result on every backend
    const used = process.cpuUsage(t0);
    const t = (used.user + used.system) / 1e6;
    be.free(c.storage);
    return t;
  };
  await once();
  const times = [];
  const start = performance.now();
  while (times.length < 3 || (performance.now() - start < 500 && times.length < 50)) times.push(await once());
  be.free(a.storage);
  be.free(b.storage);
  times.sort((x, y) => x - y);
  return times[Math.floor(times.length / 2)];
}

const backends = [
  ['wasm', await createWasmBackend({ threads: 1 })],
  ['tfjs-wasm (XNNPACK)', await createTfjsBackend({ tf, backendName: 'wasm' })],
  ['cpu (reference)', createCpuBackend()],
];
console.log(`wasm kernels: ${backends[0][1].kernelFeatures.variant}; Node ${process.version}; one thread each; GFLOP/s from CPU time`);
console.log(`\n| n³ | ${backends.map(([name]) => name).join(' | ')} | wasm / XNNPACK |`);
console.log(`|---|${backends.map(() => '---:').join('|')}|---:|`);
for (const n of sizes) {
  const gflops = [];
  for (const [, be] of backends) gflops.push((2 * n ** 3) / (await time(be, n)) / 1e9);
  console.log(`| ${n} | ${gflops.map((g) => `${g.toFixed(1)} GFLOP/s`).join(' | ')} | ${(gflops[0] / gflops[1]).toFixed(2)} |`);
}
