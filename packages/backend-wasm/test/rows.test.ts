/**
 * The SIMD row kernels against the CPU reference on rows longer and more numerous than the
 * conformance suite's: softmax and logsumexp over 30,001 logits (a vocabulary, with a tail that is not
 * a multiple of 4), layer norm forward and backward over 4,096 rows of 258.
 */
import { createCpuBackend, type Backend } from '@reformer/core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WasmBackend } from '../src/index.js';
import { random, readTensor, worstRelative, writeTensor } from './helpers.js';
import { createWasm } from './setup.js';

describe('row kernels against the CPU reference', () => {
  let wasm: WasmBackend;
  const cpu = createCpuBackend();
  beforeAll(async () => {
    wasm = await createWasm();
  });

  it('softmax and logsumexp over 3 rows of 30,001 logits (one row all −∞, one with a NaN)', () => {
    const n = 30001;
    const x = random(3 * n, 9, 8, 3);
    for (let i = n; i < 2 * n; i++) x[i] = -Infinity;
    x[2 * n + 17] = NaN;
    const run = (be: Backend) => {
      const t = writeTensor(be, x, [3, n]);
      const s = be.softmax!(t);
      const l = be.logSumExp!(t);
      const r = [readTensor(be, s), readTensor(be, l)];
      for (const u of [t, s, l]) be.free(u.storage);
      return r;
    };
    const [sGot, lGot] = run(wasm);
    const [sWant, lWant] = run(cpu);
    // Row 0: relative error of every probability; rows 1 and 2 must match exactly (zeros, NaN).
    expect(worstRelative(sGot!.subarray(0, n), sWant!.subarray(0, n))).toBeLessThan(2e-5);
    expect(Array.from(sGot!.subarray(n, 2 * n)).every((v) => v === 0)).toBe(true);
    expect(Array.from(sGot!.subarray(2 * n)).every((v) => Number.isNaN(v))).toBe(true);
    expect(Math.abs(lGot![0]! - lWant![0]!)).toBeLessThan(1e-5 * Math.abs(lWant![0]!));
    expect(lGot![1]).toBe(-Infinity);
    expect(lGot![2]).toBeNaN();
    expect(wasm.memory().liveBytes).toBe(0);
  });

  it('layer norm forward and backward over 4,096 rows of 258', () => {
    const rows = 4096;
    const n = 258;
    const x = random(rows * n, 1, 3, 0.5);
    const gamma = random(n, 2, 1, 1);
    const beta = random(n, 3);
    const dy = random(rows * n, 4);
    const run = (be: Backend) => {
      const xt = writeTensor(be, x, [rows, n]);
      const g = writeTensor(be, gamma, [n]);
      const b = writeTensor(be, beta, [n]);
      const d = writeTensor(be, dy, [rows, n]);
      const f = be.layerNorm!(xt, g, b, 1e-5);
      const back = be.layerNormBackward!(d, xt, g, f.mean, f.rstd);
      const out = [f.y, f.mean, f.rstd, back.dx, back.dGamma, back.dBeta].map((t) => readTensor(be, t));
      for (const t of [xt, g, b, d, f.y, f.mean, f.rstd, back.dx, back.dGamma, back.dBeta]) be.free(t.storage);
      return out;
    };
    const got = run(wasm);
    const want = run(cpu);
    ['y', 'mean', 'rstd', 'dx', 'dGamma', 'dBeta'].forEach((name, i) => {
      let worst = 0;
      let mag = 0;
      for (let e = 0; e < want[i]!.length; e++) {
        worst = Math.max(worst, Math.abs(got[i]![e]! - want[i]![e]!));
        mag = Math.max(mag, Math.abs(want[i]![e]!));
      }
      expect(worst, `${name} (largest |value| ${mag})`).toBeLessThanOrEqual(1e-5 * Math.max(1, mag));
    });
    expect(wasm.memory().liveBytes).toBe(0);
  });
});
