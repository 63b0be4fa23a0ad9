// Thread scaling of @reformer/backend-wasm: the same work on a 1-thread and an N-thread backend
// (default 2), interleaved round by round so both see the same machine load: LSH-4 attention forward
// and forward+backward (batch 1, one head of 64, chunk 64, nBuckets 'auto', as apps/bench) and matmul
// n³. Prints wall-clock ms (min and median), the process CPU ms (all threads summed: it shows the work
// threads add, not the speed-up) and, on Linux, the CPU ms of the calling thread alone
// (/proc/self/task/<pid>/schedstat). With dynamic task claiming the calling thread runs the serial part
// plus its share of the split kernels, so "1-thread process CPU ÷ calling-thread CPU with N threads"
// estimates the speed-up an otherwise idle machine would show — pessimistic when other work slows the
// workers (the caller then claims more tasks), optimistic by the wait for the last task. On a machine
// shared with other work wall time mostly measures the queue for a core; say so where figures go.
// Usage: node bench/threads.mjs [lengths, default 16384] [threads, default 2] [matmul n, default 1024] [rounds, default 5]
import { dispose, matmul, randomNormal, setBackend, sum, tidy, valueAndGrad } from '@reformer/core';
import { lshAttention } from '@reformer/lsh';
import { createWasmBackend } from '@reformer/backend-wasm/node';
import { readFileSync } from 'node:fs';

const lengths = (process.argv[2] ?? '16384').split(',').map(Number);
const threads = Number(process.argv[3] ?? 2);
const n = Number(process.argv[4] ?? 1024);
const rounds = Number(process.argv[5] ?? 5);
const options = { chunkLength: 64, nHashes: 4, nBuckets: 'auto', seed: 1 };

const one = await createWasmBackend({ threads: 1 });
const many = await createWasmBackend({ threads });
if (many.kernelFeatures.threads !== threads) throw new Error(`asked for ${threads} threads, got ${JSON.stringify(many.kernelFeatures)}`);

/** CPU ms of this (the calling) thread so far, or NaN where /proc is not there. */
function threadCpuMs() {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return NaN;
  }
}

/** Wall, process CPU and calling-thread CPU milliseconds of one call of `fn`. */
async function measure(fn) {
  const c0 = process.cpuUsage();
  const m0 = threadCpuMs();
  const t0 = performance.now();
  await fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1e3, main: threadCpuMs() - m0 };
}

/** Cases: name → a function that runs the work once on the current backend. */
function cases() {
  const list = [];
  for (const L of lengths) {
    list.push([
      `LSH-4 forward, L ${L}`,
      () => {
        const qk = randomNormal([1, 1, L, 64], { seed: 1 });
        const v = randomNormal([1, 1, L, 64], { seed: 2 });
        return [
          async () => {
            const out = tidy(() => lshAttention(qk, v, options).output);
            await out.data();
            dispose(out);
          },
          () => dispose([qk, v]),
        ];
      },
    ]);
    list.push([
      `LSH-4 forward+backward, L ${L}`,
      () => {
        const qk = randomNormal([1, 1, L, 64], { seed: 1 });
        const v = randomNormal([1, 1, L, 64], { seed: 2 });
        return [
          async () => {
            const r = tidy(() => valueAndGrad((a, b) => sum(lshAttention(a, b, options).output))(qk, v));
            await r.value.data();
            for (const g of r.grads) await g.data();
            dispose([r.value, ...r.grads]);
          },
          () => dispose([qk, v]),
        ];
      },
    ]);
  }
  list.push([
    `matmul ${n}³`,
    () => {
      const a = randomNormal([n, n], { seed: 1 });
      const b = randomNormal([n, n], { seed: 2 });
      return [
        async () => {
          const c = matmul(a, b);
          await c.data();
          dispose(c);
        },
        () => dispose([a, b]),
      ];
    },
  ]);
  return list;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`Node ${process.version}; ${rounds} interleaved rounds; 1 thread vs ${threads} threads (${many.kernelFeatures.variant})\n`);
console.log(
  `| case | 1 thread wall ms (min / median) | ${threads} threads wall ms (min / median) | wall speed-up (min / median) | ` +
    `process CPU ms, 1 → ${threads} threads | calling thread CPU ms, ${threads} threads | CPU estimate of the speed-up |`,
);
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const [name, make] of cases()) {
  const runs = { 1: [], [threads]: [] };
  const work = {};
  for (const [t, be] of [
    [1, one],
    [threads, many],
  ]) {
    await setBackend(be);
    work[t] = make();
    await work[t][0](); // warm-up
  }
  for (let r = 0; r < rounds; r++) {
    for (const [t, be] of r % 2 === 0
      ? [
          [1, one],
          [threads, many],
        ]
      : [
          [threads, many],
          [1, one],
        ]) {
      await setBackend(be);
      runs[t].push(await measure(work[t][0]));
    }
  }
  for (const [t, be] of [
    [1, one],
    [threads, many],
  ]) {
    await setBackend(be);
    work[t][1]();
  }
  const w1 = runs[1].map((x) => x.wall);
  const wn = runs[threads].map((x) => x.wall);
  const f = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  console.log(
    `| ${name} | ${f(Math.min(...w1))} / ${f(median(w1))} | ${f(Math.min(...wn))} / ${f(median(wn))} | ` +
      `${(Math.min(...w1) / Math.min(...wn)).toFixed(2)}× / ${(median(w1) / median(wn)).toFixed(2)}× | ` +
      `${f(median(runs[1].map((x) => x.cpu)))} → ${f(median(runs[threads].map((x) => x.cpu)))} | ` +
      `${f(median(runs[threads].map((x) => x.main)))} | ${(median(runs[1].map((x) => x.cpu)) / median(runs[threads].map((x) => x.main))).toFixed(2)}× |`,
  );
}
one.dispose();
many.dispose();
