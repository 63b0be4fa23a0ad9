/**
 * The error columns against an independent brute-force computation: float64 softmax attention on the
 * host, written here from the definition, compared with what the runner recorded.
 */
import { createCpuBackend, setBackend, tensor } from '@reformer/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { attentionError } from '../src/accuracy.js';
import { makeInputs, type HostInputs } from '../src/inputs.js';
import { runBenchmark } from '../src/runner.js';
import { VARIANTS } from '../src/variants.js';
import { defaultConfig } from '../src/args.js';
import type { BenchConfig, MeasurementRecord, VariantName } from '../src/types.js';

/** softmax_j(q_i · k_j) v_j in float64, with q_i·k_i replaced by −1e5 when excludeSelf. */
function bruteForce(h: HostInputs, excludeSelf: boolean): Float64Array {
  const [B, H, L, d] = h.shape;
  const out = new Float64Array(B * H * L * d);
  for (let bh = 0; bh < B * H; bh++) {
    const o = bh * L * d;
    for (let i = 0; i < L; i++) {
      const logits = new Float64Array(L);
      for (let j = 0; j < L; j++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += h.qk[o + i * d + c]! * h.keys[o + j * d + c]!;
        logits[j] = excludeSelf && i === j ? -1e5 : s;
      }
      const m = Math.max(...logits);
      let z = 0;
      for (let j = 0; j < L; j++) z += Math.exp(logits[j]! - m);
      for (let j = 0; j < L; j++) {
        const p = Math.exp(logits[j]! - m) / z;
        for (let c = 0; c < d; c++) out[o + i * d + c] = out[o + i * d + c]! + p * h.v[o + j * d + c]!;
      }
    }
  }
  return out;
}

/** Error by a second, independent formula: per-row norms with Math.hypot. */
function independentError(y: ArrayLike<number>, ref: ArrayLike<number>, d: number) {
  let maxAbs = 0;
  let rel = 0;
  const rows = ref.length / d;
  for (let r = 0; r < rows; r++) {
    const diff: number[] = [];
    const ex: number[] = [];
    for (let c = 0; c < d; c++) {
      diff.push(y[r * d + c]! - ref[r * d + c]!);
      ex.push(ref[r * d + c]!);
    }
    maxAbs = Math.max(maxAbs, ...diff.map(Math.abs));
    rel += Math.hypot(...diff) / Math.hypot(...ex);
  }
  return { maxAbs, meanRel: rel / rows };
}

const config: BenchConfig = {
  ...defaultConfig(),
  backends: ['cpu'],
  variants: ['full', 'full-chunked', 'local', 'lsh-1', 'lsh-4'],
  lengths: [128],
  passes: ['forward'],
  batch: 1,
  heads: 2,
  dHead: 8,
  repeats: 1,
  warmup: 0,
  chunkLength: 16,
  queryChunk: 32,
  baselines: false,
  model: false,
};

describe('error against full attention', () => {
  let records: MeasurementRecord[];
  let host: HostInputs;
  beforeAll(async () => {
    const out = await runBenchmark(config, {
      startBackend: async () => ({ backend: createCpuBackend(), info: 'cpu' }),
      baselines: [],
      referenceBackend: () => createCpuBackend(),
    });
    records = out.records;
    host = makeInputs(1, 2, 128, 8, { seed: config.seed, kind: config.inputs, chunkLength: config.chunkLength });
  });

  it('attentionError matches an independent per-row formula', () => {
    const h = makeInputs(1, 1, 64, 8, { seed: 5, kind: 'gaussian', chunkLength: 16 });
    const a = attentionError(h.qk, h.v, 8);
    const b = independentError(h.qk, h.v, 8);
    expect(a.maxAbs).toBeCloseTo(b.maxAbs, 6);
    expect(a.meanRel).toBeCloseTo(b.meanRel, 6);
    expect(attentionError(h.v, h.v, 8)).toEqual({ maxAbs: 0, meanRel: 0 });
    expect(() => attentionError(h.v, h.v.subarray(1), 8)).toThrow(RangeError);
  });

  it('the exact variants are within float32 rounding of the brute force, and the recorded error says so', async () => {
    const ref = bruteForce(host, false);
    for (const name of ['full', 'full-chunked'] as const) {
      const rec = records.find((r) => r.variant === name)!;
      expect(rec.status).toBe('ok');
      expect(rec.maxAbsError!).toBeLessThan(1e-5);
      await setBackend(createCpuBackend());
      const y = await VARIANTS[name]
        .run(tensor(host.qk, host.shape), tensor(host.v, host.shape), { length: 128, chunkLength: 16, queryChunk: 32, seed: 0 })
        .data();
      expect(independentError(y, ref, 8).maxAbs).toBeLessThan(1e-5);
    }
  });

  it.each(['local', 'lsh-1', 'lsh-4'] as VariantName[])('%s: the recorded error equals the error against the brute force', async (name) => {
    const rec = records.find((r) => r.variant === name)!;
    expect(rec.status).toBe('ok');
    const ref = bruteForce(host, VARIANTS[name].reference === 'full-excl-self');
    await setBackend(createCpuBackend());
    const y = await VARIANTS[name]
      .run(tensor(host.qk, host.shape), tensor(host.v, host.shape), {
        length: 128,
        chunkLength: config.chunkLength,
        queryChunk: 32,
        seed: config.seed * 7919 + 128,
      })
      .data();
    const expected = independentError(y, ref, 8);
    expect(expected.meanRel).toBeGreaterThan(1e-4); // an approximation: the check below can fail
    expect(rec.maxAbsError!).toBeCloseTo(expected.maxAbs, 4);
    expect(rec.meanRelError!).toBeCloseTo(expected.meanRel, 4);
  });

  it('more hash rounds give a smaller error on clustered inputs', () => {
    const e1 = records.find((r) => r.variant === 'lsh-1')!.meanRelError!;
    const e4 = records.find((r) => r.variant === 'lsh-4')!.meanRelError!;
    expect(e4).toBeLessThan(e1);
  });
});
