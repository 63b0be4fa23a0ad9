import { describe, expect, it } from 'vitest';
import { crossover, growth, peerRatios } from '../src/report/summary.js';
import { findings, resultsTable } from '../src/report/markdown.js';
import { emptyRecord } from '../src/runner.js';
import type { MeasurementRecord } from '../src/types.js';

const rec = (
  backend: string,
  variant: string,
  length: number,
  medianMs: number,
  kind: MeasurementRecord['kind'] = 'attention',
): MeasurementRecord => ({
  ...emptyRecord({ kind, backend, variant, length, pass: 'forward', batch: 1, heads: 1, dHead: 8 }),
  medianMs,
  usPerToken: (medianMs * 1000) / length,
  peakBytes: length * 4,
});

describe('summary', () => {
  // full grows quadratically (L²/1e6 ms), LSH linearly (L/500 ms): LSH is faster where L > 2000.
  const lengths = [512, 1024, 2048, 4096];
  const records = lengths.flatMap((L) => [
    rec('cpu', 'full', L, (L * L) / 1e6),
    rec('cpu', 'lsh-4', L, L / 500),
    rec('onnx', 'ort', L, (L * L) / 2e6, 'baseline'),
  ]);

  it('crossover is the first length from which LSH stays faster', () => {
    const c = crossover(records, 'cpu', 'lsh-4', 'forward');
    const expected = lengths.find((L) => lengths.filter((M) => M >= L).every((M) => M / 500 < (M * M) / 1e6));
    expect(c.length).toBe(expected);
    expect(c.compared).toEqual(lengths);
    // A variant slower at the longest length has no crossover.
    const slow = [...records.filter((r) => r.variant === 'full'), ...lengths.map((L) => rec('cpu', 'lsh-8', L, L))];
    expect(crossover(slow, 'cpu', 'lsh-8', 'forward').length).toBeNull();
  });

  it('growth and peer ratios are computed from the records', () => {
    const g = growth(records, 'cpu', 'full', 'forward', 'usPerToken')!;
    expect(g.ratio).toBeCloseTo(4096 / 512, 6);
    const r = peerRatios(records, { backend: 'cpu', variant: 'lsh-4' }, { backend: 'onnx', variant: 'ort' }, 'forward');
    expect(r.map((x) => x.speedup)).toEqual(lengths.map((L) => (L * L) / 2e6 / (L / 500)));
  });

  it('the table lists unavailable backends with their reason, and the findings name the crossover', () => {
    const un = {
      ...emptyRecord({ kind: 'attention', backend: 'webgpu', variant: '*', length: 0, pass: 'forward', batch: 1, heads: 1, dHead: 8 }),
      status: 'unavailable' as const,
      reason: 'no adapter',
    };
    const table = resultsTable([...records, un]);
    expect(table).toContain('unavailable: no adapter');
    expect(table.split('\n')).toHaveLength(records.length + 1 + 2);
    expect(table).toContain('ort (peer)');
    expect(findings(records)).toContain(`lsh-4: from ${crossover(records, 'cpu', 'lsh-4', 'forward').length! / 1024}K`);
  });
});
