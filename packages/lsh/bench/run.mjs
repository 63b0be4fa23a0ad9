#!/usr/bin/env node
// The @reformer/lsh benchmark (a program that prints figures, not a test).
//
//   pnpm --filter @reformer/lsh build && pnpm --filter @reformer/lsh bench          # L = 1K … 64K
//   pnpm --filter @reformer/lsh bench --quick                                       # L = 1K … 8K
//
// It runs the BUILT package (../dist/index.js) on @reformer/core's reference CPU backend, batch 1,
// 1 head, dHead 64, and measures for L = 1K, 2K, 4K, … :
//   - LSH attention (4 hash rounds, chunk 64, one chunk before, nBuckets 'auto' as Hugging Face
//     chooses it), forward and forward + backward (gradients w.r.t. qk and v for a random cotangent
//     dOut of the output);
//   - full attention on the same tensors (q = k = qk), dense while its [L, L] logits would fit in
//     4 GiB (L ≤ 32K), query-chunked (1024 queries at a time) beyond; the table says which.
// Time per token is the median wall time of a run divided by L (a run ends when the result has been
// read back). Peak is core's exact `memory().peakBytes` during one run, after `resetPeak()`: the
// backend's live bytes at the start (the inputs qk, v and dOut) plus everything allocated during it.
// Full attention is quadratic: by default it is measured only while its estimated forward + backward
// time stays under --full-budget seconds (estimated from the previous length × 4), and shown as
// skipped beyond; --full-max-length forces it up to a length.
// The last lines say whether the three targets of issue 3 are met.
//
// Flags: --max-length N (default 65536; --quick: 8192), --quick (fewer repeats), --full-max-length N,
//        --full-budget S (default 40), --repeats N (most timed runs per case, default 5; --quick 3).

import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { getBackend, gradients, memory, randomNormal, resetPeak, tidy } from '@reformer/core';
import { chooseNumBuckets, fullAttention, lshAttention } from '../dist/index.js';

// ---------------------------------------------------------------------------------------------------
// options

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const numberFlag = (name, fallback) => {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(argv[i + 1]);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number, got ${argv[i + 1]}`);
  return n;
};
const quick = flag('--quick');
const maxLength = numberFlag('--max-length', quick ? 8192 : 65536);
const fullMaxLength = numberFlag('--full-max-length', 0);
const fullBudgetS = numberFlag('--full-budget', 40);
const maxRepeats = numberFlag('--repeats', quick ? 3 : 5);
/** Stop repeating a case once this much time was spent on it (at least one timed run). */
const budgetMs = quick ? 1_000 : 2_500;
const gc = typeof globalThis.gc === 'function' ? globalThis.gc : () => {};

const HEADS = 1;
const D_HEAD = 64;
const N_HASHES = 4;
const CHUNK = 64;
const DENSE_LOGIT_BYTES = 4 * 2 ** 30; // dense full attention while L² · 4 B fit in 4 GiB
const QUERY_CHUNK = 1024;
const MIB = 2 ** 20;

const lengths = [];
for (let L = 1024; L <= maxLength; L *= 2) lengths.push(L);
if (lengths.length === 0) throw new Error(`--max-length must be at least 1024, got ${maxLength}`);

// ---------------------------------------------------------------------------------------------------
// timing

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Warm-up runs (only for short sequences, where they are cheap and JIT warm-up would dominate), then
 * timed runs until `maxRepeats` or the time budget. Each run starts from `resetPeak()`.
 * Returns the median milliseconds and the largest peak bytes of a run.
 */
async function measure(L, run) {
  const warmups = L <= 4096 ? (quick ? 1 : 2) : 0;
  for (let i = 0; i < warmups; i++) await run();
  const times = [];
  let peak = 0;
  let base = 0;
  const start = performance.now();
  while (times.length < maxRepeats && (times.length === 0 || performance.now() - start < budgetMs)) {
    gc();
    resetPeak();
    base = memory().liveBytes;
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
    peak = Math.max(peak, memory().peakBytes);
  }
  return { ms: median(times), peak, base, runs: times.length };
}

// ---------------------------------------------------------------------------------------------------
// the cases

const lshOptions = (L) => ({ chunkLength: CHUNK, nHashes: N_HASHES, nBuckets: 'auto', seed: 1234 + L });

async function lshForward(qk, v, L) {
  const out = tidy(() => lshAttention(qk, v, lshOptions(L)).output);
  await out.data();
  out.dispose();
}

async function lshForwardBackward(qk, v, dOut, L) {
  const { value, grads } = gradients(() => lshAttention(qk, v, lshOptions(L)).output, [qk, v], dOut);
  for (const g of grads) await g.data();
  value.dispose();
  for (const g of grads) g.dispose();
}

const fullMode = (L) => (L * L * 4 <= DENSE_LOGIT_BYTES ? 'dense' : `chunked ${QUERY_CHUNK}`);
const fullOptions = (L) => (fullMode(L) === 'dense' ? {} : { queryChunk: QUERY_CHUNK });

async function fullForward(qk, v, L) {
  const out = fullAttention(qk, qk, v, fullOptions(L));
  await out.data();
  out.dispose();
}

async function fullForwardBackward(qk, v, dOut, L) {
  const { value, grads } = gradients(() => fullAttention(qk, qk, v, fullOptions(L)), [qk, v], dOut);
  for (const g of grads) await g.data();
  value.dispose();
  for (const g of grads) g.dispose();
}

// ---------------------------------------------------------------------------------------------------
// run

const fmtUs = (ms, L) => (ms === undefined ? '—' : ((ms * 1000) / L).toFixed(1));
const fmtMiB = (bytes) => (bytes === undefined ? '—' : (bytes / MIB).toFixed(1));
const fmtBuckets = (L) => {
  const nb = chooseNumBuckets(L, CHUNK);
  return Array.isArray(nb) ? `[${nb.join('×')}]` : String(nb);
};

console.log(
  `@reformer/lsh benchmark — backend ${getBackend().name}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`,
);
console.log(
  `batch 1, ${HEADS} head, dHead ${D_HEAD}; LSH: ${N_HASHES} hashes, chunk ${CHUNK}, 1 chunk before, nBuckets 'auto'; ` +
    `full: dense while L² logits fit in 4 GiB, else query-chunked by ${QUERY_CHUNK}`,
);
console.log(`lengths ${lengths.join(', ')}${quick ? ' (--quick)' : ''}\n`);

// Warm the JIT up on every code path first, so that the shortest length is not measured cold (that
// would inflate its time per token and flatter target 1).
{
  const L = 1024;
  const qk = randomNormal([1, HEADS, L, D_HEAD], { seed: 1 });
  const v = randomNormal([1, HEADS, L, D_HEAD], { seed: 2 });
  const dOut = randomNormal([1, HEADS, L, D_HEAD], { seed: 3 });
  for (let i = 0; i < (quick ? 2 : 4); i++) {
    await lshForward(qk, v, L);
    await lshForwardBackward(qk, v, dOut, L);
    await fullForward(qk, v, L);
    await fullForwardBackward(qk, v, dOut, L);
  }
  for (const t of [qk, v, dOut]) t.dispose();
}

const rows = [];
let fullEstimateMs = 0;
for (const L of lengths) {
  const qk = randomNormal([1, HEADS, L, D_HEAD], { seed: 1 });
  const v = randomNormal([1, HEADS, L, D_HEAD], { seed: 2 });
  const dOut = randomNormal([1, HEADS, L, D_HEAD], { seed: 3 });
  const row = { L, buckets: fmtBuckets(L), fullMode: fullMode(L) };
  const lf = await measure(L, () => lshForward(qk, v, L));
  const lb = await measure(L, () => lshForwardBackward(qk, v, dOut, L));
  Object.assign(row, { lshF: lf.ms, lshFPeak: lf.peak, lshB: lb.ms, lshBPeak: lb.peak, inputBytes: lb.base });
  const forced = L <= fullMaxLength;
  if (forced || fullEstimateMs <= fullBudgetS * 1000) {
    const ff = await measure(L, () => fullForward(qk, v, L));
    const fb = await measure(L, () => fullForwardBackward(qk, v, dOut, L));
    Object.assign(row, { fullF: ff.ms, fullFPeak: ff.peak, fullB: fb.ms, fullBPeak: fb.peak });
    fullEstimateMs = 4 * (ff.ms + fb.ms);
  } else {
    row.fullSkipped = fullEstimateMs;
    fullEstimateMs *= 4;
  }
  rows.push(row);
  console.log(
    `  L ${String(L).padStart(6)}: LSH fwd ${fmtUs(lf.ms, L)} µs/token (${lf.runs} runs), fwd+bwd ${fmtUs(lb.ms, L)} µs/token, peak ${fmtMiB(lb.peak)} MiB` +
      (row.fullF !== undefined
        ? `; full (${row.fullMode}) fwd ${fmtUs(row.fullF, L)}, fwd+bwd ${fmtUs(row.fullB, L)} µs/token`
        : `; full skipped (≈ ${(row.fullSkipped / 1000).toFixed(0)} s estimated)`),
  );
  for (const t of [qk, v, dOut]) t.dispose();
  gc();
}

// ---------------------------------------------------------------------------------------------------
// table

const header = [
  'L',
  'buckets',
  'LSH fwd µs/tok',
  'LSH f+b µs/tok',
  'LSH fwd peak MiB',
  'LSH f+b peak MiB',
  'full mode',
  'full fwd µs/tok',
  'full f+b µs/tok',
  'full f+b peak MiB',
  'f+b speed-up',
];
const table = rows.map((r) => [
  String(r.L),
  r.buckets,
  fmtUs(r.lshF, r.L),
  fmtUs(r.lshB, r.L),
  fmtMiB(r.lshFPeak),
  fmtMiB(r.lshBPeak),
  r.fullF !== undefined ? r.fullMode : `${r.fullMode}: skipped`,
  fmtUs(r.fullF, r.L),
  fmtUs(r.fullB, r.L),
  fmtMiB(r.fullBPeak),
  r.fullB !== undefined ? `${(r.fullB / r.lshB).toFixed(1)}×` : '—',
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
const line = (cells) => `| ${cells.map((c, i) => (i < 2 || i === 6 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
console.log(`\n${line(header)}`);
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of table) console.log(line(row));

// ---------------------------------------------------------------------------------------------------
// targets of issue 3

const first = rows[0];
const last = rows[rows.length - 1];
const at = last.L === 65536 ? '64K' : `${last.L} (not 64K: run with --max-length 65536 for the real target)`;
const status = (ok) => (ok ? 'met' : 'NOT met');
console.log('\nTargets (issue 3):');

const ratioF = last.lshF / last.L / (first.lshF / first.L);
const ratioB = last.lshB / last.L / (first.lshB / first.L);
console.log(
  `  1. LSH time per token at ${at} within 1.5× of 1K: forward ${ratioF.toFixed(2)}×, forward+backward ${ratioB.toFixed(2)}× — ` +
    status(ratioF <= 1.5 && ratioB <= 1.5),
);

const compared = rows.filter((r) => r.L >= 2048 && r.fullF !== undefined);
const slower = compared.filter((r) => !(r.lshF < r.fullF && r.lshB < r.fullB));
const skipped = rows.filter((r) => r.L >= 2048 && r.fullF === undefined);
console.log(
  `  2. LSH faster than full attention from L ≥ 2048: ` +
    (compared.length === 0
      ? 'not measured (no full-attention run at L ≥ 2048) — NOT met'
      : `${compared.length - slower.length}/${compared.length} measured lengths (${compared.map((r) => r.L).join(', ')}), forward and forward+backward` +
        (skipped.length
          ? `; full attention skipped at ${skipped.map((r) => r.L).join(', ')} (quadratic: its time per token only grows with L while LSH's stays flat; --full-max-length to measure)`
          : '') +
        ` — ${status(slower.length === 0)}`),
);

const peakB = last.lshBPeak;
console.log(
  `  3. LSH forward+backward at ${at} under 1 GiB peak: ${fmtMiB(peakB)} MiB, of which ${fmtMiB(last.inputBytes)} MiB are the inputs qk, v, dOut ` +
    `alive before the run (dense full attention's [L, L] logits alone: ${fmtMiB(last.L * last.L * 4)} MiB) — ` +
    status(peakB < 2 ** 30),
);
