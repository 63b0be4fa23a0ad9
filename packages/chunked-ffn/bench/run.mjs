#!/usr/bin/env node
// The @reformer/chunked-ffn benchmark (a program that prints figures, not a test).
//
//   pnpm --filter @reformer/chunked-ffn build && pnpm --filter @reformer/chunked-ffn bench
//   pnpm --filter @reformer/chunked-ffn bench --quick        # smaller sizes, fewer repeats
//
// It runs the BUILT package (../dist/index.js) on @reformer/core's reference CPU backend and measures
// forward + backward (gradients with respect to the input and every parameter) of
//   1. ChunkedFeedForward (gelu, F = 4·H) for chunkSize = L/1 (unchunked), L/2, L/4, L/8, L/16;
//   2. the LM-head loss: chunkedCrossEntropy (causal shift) for a few chunk sizes, against the
//      materialised logits + core crossEntropy.
// Peak = core's exact memory().peakBytes − memory().liveBytes right after resetPeak(): what the
// forward + backward adds on top of the inputs and parameters (which exist before). Time = median
// wall time of the timed runs (after one warm-up run), CPU backend, single thread.
//
// Flags: --quick, --repeats N (timed runs per case, default 3; --quick 2).

import { performance } from 'node:perf_hooks';
import { crossEntropy, dispose, gradients, matmul, memory, randomNormal, randomUniform, cast, resetPeak, slice, tidy } from '@reformer/core';
import { ChunkedFeedForward, chunkedCrossEntropy } from '../dist/index.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const repeatsArg = argv.indexOf('--repeats');
const repeats = repeatsArg >= 0 ? Math.max(1, Number(argv[repeatsArg + 1]) | 0) : quick ? 2 : 3;
const gc = typeof globalThis.gc === 'function' ? globalThis.gc : () => {};
const MIB = 1024 * 1024;
const fmtMiB = (b) => (b / MIB).toFixed(2).padStart(8);
const fmtMs = (ms) => ms.toFixed(0).padStart(7);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs `step` (which returns tensors to free) once to warm up, then `repeats` timed runs. */
function measure(step) {
  dispose(step());
  const times = [];
  let peak = 0;
  for (let r = 0; r < repeats; r++) {
    gc();
    resetPeak();
    const base = memory().liveBytes;
    const t0 = performance.now();
    const out = step();
    const ms = performance.now() - t0;
    peak = Math.max(peak, memory().peakBytes - base);
    dispose(out);
    times.push(ms);
  }
  return { ms: median(times), peak };
}

// ------------------------------------------------------------------------------------------------
// 1. Feed-forward

const B = 1;
const L = quick ? 1024 : 2048;
const H = quick ? 64 : 128;
const F = 4 * H;
console.log(`@reformer/chunked-ffn bench — CPU backend, ${repeats} timed runs per case (median time; peak above live bytes at the start)\n`);
console.log(`ChunkedFeedForward forward+backward, gelu, B ${B}, L ${L}, H ${H}, F ${F} ([B, L, F] float32 = ${fmtMiB(B * L * F * 4).trim()} MiB)`);
console.log('  chunkSize     peak MiB   vs L/1   time ms   vs L/1');
const ff = new ChunkedFeedForward({ hiddenSize: H, feedForwardSize: F, activation: 'gelu', seed: 1, initStd: 0.02 });
const x = randomNormal([B, L, H], { seed: 2 });
const dy = randomNormal([B, L, H], { seed: 3 });
const params = ff.parameters();
let ref;
const ffRows = [];
for (const div of [1, 2, 4, 8, 16]) {
  const chunkSize = div === 1 ? 0 : L / div;
  const r = measure(() => {
    const { value, grads } = gradients(() => ff.forward(x, { chunkSize }), [x, ...params], dy);
    return [value, grads];
  });
  ref ??= r;
  ffRows.push({ div, ...r });
  console.log(
    `  ${(div === 1 ? `L/1 (0)` : `L/${div} (${chunkSize})`).padEnd(11)} ${fmtMiB(r.peak)}   ${(r.peak / ref.peak).toFixed(2).padStart(6)} ${fmtMs(r.ms)}   ${(r.ms / ref.ms).toFixed(2).padStart(6)}`,
  );
}
dispose([x, dy]);
ff.dispose();
const l8 = ffRows.find((r) => r.div === 8);
console.log(`  target: peak(L/8) <= 1/4 peak(L/1): ${(l8.peak / ref.peak).toFixed(3)} -> ${l8.peak <= ref.peak / 4 ? 'met' : 'NOT met'}\n`);

// ------------------------------------------------------------------------------------------------
// 2. LM head loss

const LL = quick ? 512 : 1024;
const D = quick ? 64 : 128;
const V = quick ? 1024 : 2048;
console.log(`LM-head loss forward+backward (causal shift), B ${B}, L ${LL}, hidden ${D}, V ${V} ([B, L, V] logits = ${fmtMiB(B * LL * V * 4).trim()} MiB)`);
console.log('  variant                  peak MiB   time ms');
const hidden = randomNormal([B, LL, D], { seed: 4 });
const weight = randomNormal([V, D], { seed: 5, std: 0.05 });
const labels = tidy(() => cast(randomUniform([B, LL], { seed: 6, min: 0, max: V }), 'int32'));
const materialised = measure(() => {
  const { value, grads } = gradients(
    () => tidy(() => crossEntropy(matmul(slice(hidden, [0, 0, 0], [B, LL - 1, D]), weight, false, true), slice(labels, [0, 1], [B, LL - 1]))),
    [hidden, weight],
  );
  return [value, grads];
});
console.log(`  ${'materialised logits'.padEnd(22)} ${fmtMiB(materialised.peak)} ${fmtMs(materialised.ms)}`);
for (const chunkSize of [256, 64, 16]) {
  const r = measure(() => {
    const { value, grads } = gradients(() => chunkedCrossEntropy(hidden, weight, labels, { shift: true, chunkSize }), [hidden, weight]);
    return [value, grads];
  });
  console.log(`  ${`chunked, chunkSize ${chunkSize}`.padEnd(22)} ${fmtMiB(r.peak)} ${fmtMs(r.ms)}   (${(r.peak / materialised.peak).toFixed(2)} of materialised)`);
}
dispose([hidden, weight, labels]);
