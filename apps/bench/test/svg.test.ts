import { describe, expect, it } from 'vitest';
import { lineChart, xmlEscape } from '../src/report/svg.js';
import { buildCharts } from '../src/report/charts.js';
import { emptyRecord } from '../src/runner.js';
import type { MeasurementRecord } from '../src/types.js';
import { checkWellFormedXml } from './xml.js';

function pointsOf(svg: string, name: string): { x: number; y: number }[] {
  const path = new RegExp(`<path d="([^"]+)"[^>]*><title>${name}</title>`).exec(svg);
  if (!path) return [];
  return [...path[1]!.matchAll(/[ML]([\d.]+) ([\d.]+)/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]) }));
}

describe('lineChart', () => {
  it('is well-formed XML, escapes text and draws each series', () => {
    const svg = lineChart({
      title: 'a < b & "c"',
      xLabel: 'L',
      yLabel: 'µs',
      logX: true,
      logY: true,
      series: [
        {
          name: 'up',
          points: [
            { x: 1024, y: 1 },
            { x: 2048, y: 2 },
            { x: 4096, y: 4 },
          ],
        },
        {
          name: 'flat',
          points: [
            { x: 1024, y: 3 },
            { x: 4096, y: 3 },
          ],
          dashed: true,
        },
      ],
    });
    expect(checkWellFormedXml(svg)).toEqual([]);
    expect(svg).toContain(xmlEscape('a < b & "c"'));
    expect(svg).not.toContain('a < b');
    const up = pointsOf(svg, 'up');
    expect(up).toHaveLength(3);
    // log-log: doubling x and y moves by equal steps in both directions (y grows upwards).
    expect(up[1]!.x - up[0]!.x).toBeCloseTo(up[2]!.x - up[1]!.x, 0);
    expect(up[0]!.y - up[1]!.y).toBeCloseTo(up[1]!.y - up[2]!.y, 0);
    const flat = pointsOf(svg, 'flat');
    expect(flat[0]!.y).toBeCloseTo(flat[1]!.y, 5);
    expect(svg).toMatch(/stroke-dasharray/);
  });

  it('leaves out non-positive values on log axes and says when there is no data', () => {
    const svg = lineChart({
      title: 't',
      xLabel: 'x',
      yLabel: 'y',
      logY: true,
      series: [
        {
          name: 's',
          points: [
            { x: 1, y: 0 },
            { x: 2, y: -1 },
          ],
        },
      ],
    });
    expect(checkWellFormedXml(svg)).toEqual([]);
    expect(svg).toContain('no data');
  });
});

describe('buildCharts', () => {
  it('makes time, memory and accuracy charts per backend, each well-formed', () => {
    const records: MeasurementRecord[] = [];
    for (const variant of ['full', 'lsh-1', 'lsh-2'])
      for (const length of [256, 512])
        records.push({
          ...emptyRecord({ kind: 'attention', backend: 'cpu', variant, length, pass: 'forward', batch: 1, heads: 1, dHead: 8 }),
          medianMs: length / 100,
          usPerToken: 10,
          peakBytes: length * 1000,
          meanRelError: variant === 'full' ? 0 : 1 / Number(variant.slice(4)),
        });
    const charts = buildCharts(records);
    expect(charts.map((c) => c.file).sort()).toEqual(['accuracy-cpu.svg', 'memory-cpu-forward.svg', 'time-cpu-forward.svg']);
    for (const c of charts) expect(checkWellFormedXml(c.svg)).toEqual([]);
    expect(charts.find((c) => c.file === 'accuracy-cpu.svg')!.svg).toContain('L = 256');
  });
});
