// Per-kernel time of an LSH forward+backward on tfjs-wasm: by core Backend kernel and by tfjs kernel.
// node bench/profile.mjs [L] [backend=wasm|cpu-ref]
import * as tf from '@tensorflow/tfjs-core';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createCpuBackend, gradients, randomNormal, seedScope, setBackend, tidy } from '@reformer/core';
import { lshAttention } from '@reformer/lsh';
import { TfjsBackend, createTfjsBackend } from '../dist/index.js';
import { wasmPathsForNode } from '../dist/node.js';

setWasmPaths(wasmPathsForNode());
setThreadsCount(Number(process.env.THREADS ?? 1));
const L = Number(process.argv[2] ?? 4096);
const which = process.argv[3] ?? 'wasm';
const be = which === 'cpu' ? createCpuBackend() : await createTfjsBackend({ tf, backendName: 'wasm', attentionBandChunks: Number(process.env.BAND ?? 2) });
const byMethod = new Map();
const proto = Object.getPrototypeOf(be);
for (const name of Object.getOwnPropertyNames(proto)) {
  if (name === 'constructor' || typeof proto[name] !== 'function' || name.startsWith('#')) continue;
  const f = be[name];
  be[name] = function (...a) {
    const t0 = performance.now();
    const r = f.apply(this, a);
    const dt = performance.now() - t0;
    const e = byMethod.get(name) ?? { n: 0, ms: 0 };
    e.n++; e.ms += dt; byMethod.set(name, e);
    return r;
  };
}
await setBackend(be);
const d = 64;
const [qk, v, dy] = seedScope(1, () => [randomNormal([1, 1, L, d]), randomNormal([1, 1, L, d]), randomNormal([1, 1, L, d])]);
const fwdOnly = process.env.FWD === '1';
const step = async () => {
  const attend = () => lshAttention(qk, v, { chunkLength: 64, nHashes: 2, seed: 3 }).output;
  const gs = tidy(() => (fwdOnly ? [attend()] : gradients(attend, [qk, v], dy).grads));
  for (const g of gs) await g.data();
  for (const g of gs) g.dispose();
};
await step();
byMethod.clear();
const t0 = performance.now();
await step();
const total = performance.now() - t0;
console.log(`L ${L} ${be.name}: ${fwdOnly ? 'fwd' : 'fwd+bwd'} ${total.toFixed(1)} ms`);
for (const [k, e] of [...byMethod].sort((a, b) => b[1].ms - a[1].ms)) console.log(`  ${k.padEnd(26)} ${String(e.n).padStart(4)}× ${e.ms.toFixed(1).padStart(8)} ms`);
if (be instanceof TfjsBackend && !process.env.NOTF) {
  const prof = await tf.profile(step);
  const byK = new Map();
  for (const k of prof.kernels) {
    const e = byK.get(k.name) ?? { n: 0, ms: 0 };
    e.n++; e.ms += k.kernelTimeMs; byK.set(k.name, e);
  }
  console.log(`tfjs kernels: ${prof.kernels.length}, peak ${(prof.peakBytes / 2 ** 20).toFixed(1)} MiB`);
  for (const [k, e] of [...byK].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) console.log(`  ${k.padEnd(26)} ${String(e.n).padStart(5)}× ${e.ms.toFixed(1).padStart(8)} ms`);
}
if (process.env.TOP) {
  const prof = await tf.profile(step);
  const ks = [...prof.kernels].sort((a, b) => b.kernelTimeMs - a.kernelTimeMs).slice(0, Number(process.env.TOP));
  for (const k of ks) console.log(k.name.padEnd(14), k.kernelTimeMs.toFixed(2), JSON.stringify(k.inputShapes), JSON.stringify(k.outputShapes));
  const g = prof.kernels.filter((k) => k.name === 'GatherV2').map((k) => k.kernelTimeMs).sort((a, b) => a - b);
  console.log('gather median', g[g.length >> 1]);
}
