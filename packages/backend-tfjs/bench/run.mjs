// LSH and full attention on tfjs-wasm vs the CPU reference backend vs plain tfjs attention
// (matMul + softmax). Run after `pnpm build`: node --expose-gc bench/run.mjs [L...]
import * as tf from '@tensorflow/tfjs-core';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createCpuBackend, randomNormal, seedScope, setBackend, tidy } from '@reformer/core';
import { lshAttention, fullAttention } from '@reformer/lsh';
import { createTfjsBackend } from '../dist/index.js';
import { wasmPathsForNode } from '../dist/node.js';

setWasmPaths(wasmPathsForNode());
const wasm = await createTfjsBackend({ tf, backendName: 'wasm' });
const cpu = createCpuBackend();
const Ls = process.argv.slice(2).map(Number).filter(Boolean);
const lengths = Ls.length ? Ls : [1024, 2048, 4096];
const d = 64;

async function time(fn, reps = 3) {
  await fn();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await fn();
  return (performance.now() - t0) / reps;
}

async function coreRun(backend, L, kind) {
  await setBackend(backend);
  const [qk, v] = seedScope(1, () => [randomNormal([1, 1, L, d]), randomNormal([1, 1, L, d])]);
  const ms = await time(async () => {
    const out = tidy(() =>
      kind === 'lsh' ? lshAttention(qk, v, { chunkLength: 64, nHashes: 2, seed: 3 }).output : fullAttention(qk, qk, v, {}),
    );
    await out.data();
    out.dispose();
  });
  qk.dispose();
  v.dispose();
  return ms;
}

async function plainTf(L) {
  await tf.setBackend('wasm');
  const q = tf.randomNormal([1, L, d]);
  const ms = await time(async () => {
    const o = tf.tidy(() => tf.matMul(tf.softmax(tf.mul(tf.matMul(q, q, false, true), 1 / Math.sqrt(d))), q));
    await o.data();
    o.dispose();
  });
  q.dispose();
  return ms;
}

for (const L of lengths) {
  const row = { L };
  row.lshWasm = await coreRun(wasm, L, 'lsh');
  row.lshCpu = await coreRun(cpu, L, 'lsh');
  row.plainTfFull = await plainTf(L);
  row.cpuOverWasm = +(row.lshCpu / row.lshWasm).toFixed(2);
  row.plainOverLshWasm = +(row.plainTfFull / row.lshWasm).toFixed(2);
  console.log(JSON.stringify(row));
}
