// LSH-4 attention forward and forward+backward on @reformer/backend-wasm, tfjs-wasm (XNNPACK, one
// thread) and the CPU reference, in one process, timed in CPU time of the process (user + system; every
// backend here runs on this one thread, and on a machine shared with other work wall time mostly
// measures the queue for a core). Configuration of apps/bench: batch 1, one head of 64, chunk 64,
// `nBuckets: 'auto'`, Gaussian inputs. Usage: node bench/lsh.mjs [lengths, default 1024,4096,16384]
import { createCpuBackend, dispose, randomNormal, setBackend, sum, tidy, valueAndGrad } from '@reformer/core';
import { lshAttention } from '@reformer/lsh';
import * as tf from '@tensorflow/tfjs-core';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createTfjsBackend } from '@reformer/backend-tfjs';
import { wasmPathsForNode } from '@reformer/backend-tfjs/node';
import { createWasmBackend } from '@reformer/backend-wasm/node';

const lengths = (process.argv[2] ?? '1024,4096,16384').split(',').map(Number);
setWasmPaths(wasmPathsForNode());
setThreadsCount(1);
const options = { chunkLength: 64, nHashes: 4, nBuckets: 'auto', seed: 1 };

/** Median CPU milliseconds of `fn` (one warm-up; at least `runs` timed runs, more while under 2 s). */
async function cpuMs(fn, runs) {
  await fn();
  const times = [];
  const start = performance.now();
  while (times.length < runs || (performance.now() - start < 2000 && times.length < 7)) {
    const t0 = process.cpuUsage();
    await fn();
    const t = process.cpuUsage(t0);
    times.push((t.user + t.system) / 1e3);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const wasm = await createWasmBackend({ threads: 1 });
const backends = [
  [`wasm (${wasm.kernelFeatures.variant})`, wasm],
  ['tfjs-wasm (XNNPACK)', await createTfjsBackend({ tf, backendName: 'wasm' })],
  ['cpu (reference)', createCpuBackend()],
];
const rows = [];
for (const L of lengths) {
  const row = { L, fwd: [], bwd: [] };
  for (const [, be] of backends) {
    await setBackend(be);
    const qk = randomNormal([1, 1, L, 64], { seed: 1 });
    const v = randomNormal([1, 1, L, 64], { seed: 2 });
    const runs = be.name === 'cpu' && L > 4096 ? 1 : 3;
    row.fwd.push(
      await cpuMs(async () => {
        const out = tidy(() => lshAttention(qk, v, options).output);
        await out.data();
        dispose(out);
      }, runs),
    );
    row.bwd.push(
      await cpuMs(async () => {
        const r = tidy(() => valueAndGrad((a, b) => sum(lshAttention(a, b, options).output))(qk, v));
        await r.value.data();
        for (const g of r.grads) await g.data();
        dispose([r.value, ...r.grads]);
      }, runs),
    );
    dispose([qk, v]);
  }
  rows.push(row);
  console.error(`L ${L} done`);
}
const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
console.log(`Node ${process.version}; CPU ms (median); LSH-4, batch 1, 1 head, dHead 64, chunk 64`);
for (const pass of ['fwd', 'bwd']) {
  console.log(`\n**${pass === 'fwd' ? 'forward' : 'forward+backward'}**\n`);
  console.log(`| L | ${backends.map(([n]) => n).join(' | ')} | wasm ÷ cpu | wasm ÷ tfjs-wasm |`);
  console.log(`|---:|${backends.map(() => '---:').join('|')}|---:|---:|`);
  for (const r of rows) {
    const t = r[pass];
    console.log(`| ${r.L} | ${t.map(fmt).join(' | ')} | ${(t[2] / t[0]).toFixed(1)}× faster | ${(t[1] / t[0]).toFixed(1)}× faster |`);
  }
}
