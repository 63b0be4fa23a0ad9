// LSH attention on tfjs-wasm vs the CPU reference backend vs plain tfjs full attention (matMul +
// softmax, written the way a tfjs user would), same shapes, same process; forward and forward+backward.
// Run after `pnpm build`:
//   node --expose-gc bench/run.mjs [--reps 3] [--plain-max 4096] [--json] [L ...]
// Default lengths 1024 2048 4096 16384 (about 2–3 minutes on 2 shared cores). Each cell is the median
// of `reps` timed runs after one warm-up; the implementations are interleaved within every repetition.
import * as tf from '@tensorflow/tfjs-core';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createCpuBackend, gradients, randomNormal, seedScope, setBackend, tidy } from '@reformer/core';
import { fullAttention, lshAttention } from '@reformer/lsh';
import { createTfjsBackend } from '../dist/index.js';
import { wasmPathsForNode } from '../dist/node.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  args.splice(i, 2);
  return v;
};
const reps = opt('--reps', 3);
const plainMax = opt('--plain-max', 4096);
const fullMax = opt('--full-max', 4096);
const json = args.includes('--json');
const Ls = args.filter((a) => !a.startsWith('--')).map(Number).filter(Boolean);
const lengths = Ls.length ? Ls : [1024, 2048, 4096, 16384];
const d = 64;
const lshOptions = { chunkLength: 64, nHashes: 2, seed: 3 };

setWasmPaths(wasmPathsForNode());
setThreadsCount(1); // tfjs-wasm is single-threaded in Node anyway (see README, Performance)
const wasm = await createTfjsBackend({ tf, backendName: 'wasm' });
const cpu = createCpuBackend();

/** One timed run of our attention (lsh or full) on `backend`; forward only or forward + backward. */
async function ours(backend, L, kind, backward) {
  await setBackend(backend);
  const [qk, v, dy] = seedScope(1, () => [randomNormal([1, 1, L, d]), randomNormal([1, 1, L, d]), randomNormal([1, 1, L, d])]);
  const attend = () => (kind === 'lsh' ? lshAttention(qk, v, lshOptions).output : fullAttention(qk, qk, v, {}));
  const t0 = performance.now();
  const outs = tidy(() => (backward ? gradients(attend, [qk, v], dy).grads : [attend()]));
  for (const o of outs) await o.data();
  const ms = performance.now() - t0;
  for (const t of [...outs, qk, v, dy]) t.dispose();
  return ms;
}

/**
 * Plain tfjs attention softmax(q kᵀ / √d) v on tfjs-wasm (shared q = k, as in LSH). The backward is the
 * one tf.grads would run (the same BatchMatMul/Mul/Sum/Sub kernels), written out because tfjs-core
 * alone registers no gradients and @tensorflow/tfjs is not a dependency here.
 */
async function plain(L, backward) {
  await tf.setBackend('wasm');
  const [q, v, dy] = [tf.randomNormal([1, L, d]), tf.randomNormal([1, L, d]), tf.randomNormal([1, L, d])];
  const scale = 1 / Math.sqrt(d);
  const t0 = performance.now();
  const outs = tf.tidy(() => {
    const p = tf.softmax(tf.mul(tf.matMul(q, q, false, true), scale));
    const o = tf.matMul(p, v);
    if (!backward) return [o];
    const dv = tf.matMul(p, dy, true, false);
    const dp = tf.matMul(dy, v, false, true);
    const ds = tf.mul(tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true))), scale);
    const dq = tf.add(tf.matMul(ds, q), tf.matMul(ds, q, true, false)); // q is both query and key
    return [o, dq, dv];
  });
  for (const o of outs) await o.data();
  const ms = performance.now() - t0;
  tf.dispose([...outs, q, v, dy]);
  return ms;
}

const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const rows = [];
for (const L of lengths) {
  for (const backward of [false, true]) {
    const impls = {
      lshWasm: () => ours(wasm, L, 'lsh', backward),
      lshCpu: () => ours(cpu, L, 'lsh', backward),
    };
    if (L <= fullMax) impls.fullWasm = () => ours(wasm, L, 'full', backward);
    if (L <= plainMax) impls.plainTf = () => plain(L, backward);
    const times = Object.fromEntries(Object.keys(impls).map((k) => [k, []]));
    for (const f of Object.values(impls)) await f(); // warm-up
    for (let r = 0; r < reps; r++) for (const [k, f] of Object.entries(impls)) times[k].push(await f());
    const row = { L, mode: backward ? 'fwd+bwd' : 'fwd' };
    for (const k of Object.keys(impls)) row[k] = +median(times[k]).toFixed(1);
    row.cpuOverLshWasm = +(row.lshCpu / row.lshWasm).toFixed(2);
    if (row.plainTf !== undefined) row.plainOverLshWasm = +(row.plainTf / row.lshWasm).toFixed(2);
    rows.push(row);
    if (json) console.log(JSON.stringify(row));
    if (globalThis.gc) globalThis.gc();
  }
}

if (!json) {
  const cell = (v, digits = 1) => (v === undefined ? 'n/a' : typeof v === 'number' ? v.toFixed(digits) : String(v));
  const header = ['L', 'pass', 'LSH tfjs-wasm ms', 'LSH CPU-backend ms', 'CPU / wasm', 'full (ours) wasm ms', 'plain tfjs full ms', 'plain / LSH-wasm'];
  const body = rows.map((r) => [
    String(r.L),
    r.mode,
    cell(r.lshWasm),
    cell(r.lshCpu),
    `${cell(r.cpuOverLshWasm, 2)}×`,
    cell(r.fullWasm),
    cell(r.plainTf),
    r.plainOverLshWasm === undefined ? 'n/a' : `${cell(r.plainOverLshWasm, 2)}×`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padStart(widths[i])).join(' | ')} |`;
  console.log(`LSH attention (B 1, H 1, d ${d}, chunk 64, 2 hashes) — median of ${reps}, ${new Date().toISOString()}`);
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const b of body) console.log(line(b));
  console.log(`CPU / wasm > 1: LSH on tfjs-wasm is faster than on the CPU backend (target ≥ 3 at 16K).`);
  console.log(`plain / LSH-wasm > 1: LSH on tfjs-wasm beats plain tfjs matMul+softmax attention (target from L 2048).`);
  if (plainMax < Math.max(...lengths)) console.log(`plain tfjs full attention is not run above L ${plainMax} (its [L, L] logits and their gradient; --plain-max to change).`);
}
