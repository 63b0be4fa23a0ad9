import { describe, expect, it } from 'vitest';
import { findings } from '../src/report/markdown.js';
import { emptyRecord } from '../src/runner.js';
import type { MeasurementRecord } from '../src/types.js';

const rec = (backend: string, variant: string, length: number, medianMs: number): MeasurementRecord => ({
  ...emptyRecord({ kind: 'attention', backend, variant, length, pass: 'forward', batch: 1, heads: 1, dHead: 8 }),
  medianMs,
  usPerToken: (medianMs * 1000) / length,
  peakBytes: length * 4,
});

describe('findings: each backend against the CPU reference', () => {
  it('gives cpu time ÷ the backend time per variant and length', () => {
    const records = [
      rec('cpu', 'lsh-2', 1024, 100),
      rec('tfjs-wasm', 'lsh-2', 1024, 25),
      rec('cpu', 'lsh-2', 2048, 200),
      rec('tfjs-wasm', 'lsh-2', 2048, 40),
    ];
    expect(findings(records)).toContain(`- tfjs-wasm vs cpu, lsh-2, fwd: 1K ×${(100 / 25).toFixed(1)}, 2K ×${(200 / 40).toFixed(1)}`);
  });

  it('is absent when cpu was not measured', () => {
    expect(findings([rec('tfjs-wasm', 'lsh-2', 1024, 25)])).not.toContain('against the CPU reference');
  });
});
