/**
 * The charts of a run, built from its records: time per token vs length (log-log) and peak memory vs
 * length per backend and pass, accuracy vs hash rounds, and the whole-model rows.
 *
 * @module
 */
import type { MeasurementRecord, Pass } from '../types.js';
import { VARIANT_NAMES } from '../types.js';
import { hashesOf } from '../variants.js';
import { lengthLabel } from './format.js';
import { lineChart, type Series } from './svg.js';

/** One chart: its file name, title and SVG text. */
export interface Chart {
  file: string;
  title: string;
  svg: string;
}

const ok = (r: MeasurementRecord) => r.status === 'ok';
const passLabel = (p: Pass) => (p === 'forward' ? 'forward' : 'forward + backward');
const slug = (s: string) => s.replace(/[^a-zA-Z0-9]+/g, '-').replace(/^-|-$/g, '');

function seriesBy(
  records: MeasurementRecord[],
  key: (r: MeasurementRecord) => string,
  y: (r: MeasurementRecord) => number | null,
  dashed = false,
): Series[] {
  const groups = new Map<string, { x: number; y: number }[]>();
  for (const r of records) {
    const v = y(r);
    if (v === null) continue;
    const k = key(r);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push({ x: r.length, y: v });
  }
  return [...groups].map(([name, points]) => ({ name, points, ...(dashed ? { dashed } : {}) }));
}

const order = (v: string) => {
  const i = (VARIANT_NAMES as readonly string[]).indexOf(v);
  return i < 0 ? 99 : i;
};

/** Every chart the records support. */
export function buildCharts(records: readonly MeasurementRecord[]): Chart[] {
  const charts: Chart[] = [];
  const att = records.filter((r) => r.kind === 'attention' && ok(r)).sort((a, b) => order(a.variant) - order(b.variant));
  const peers = records.filter((r) => r.kind === 'baseline' && ok(r));
  const backends = [...new Set(att.map((r) => r.backend))];
  const passes = (['forward', 'backward'] as const).filter((p) => att.some((r) => r.pass === p));
  for (const b of backends)
    for (const p of passes) {
      const rs = att.filter((r) => r.backend === b && r.pass === p);
      const ps = peers.filter((r) => r.pass === p);
      const title = `Time per token vs length — ${b}, ${passLabel(p)}`;
      charts.push({
        file: `time-${slug(b)}-${p}.svg`,
        title,
        svg: lineChart({
          title,
          xLabel: 'sequence length L',
          yLabel: 'µs per token',
          logX: true,
          logY: true,
          xTickLabel: lengthLabel,
          series: [
            ...seriesBy(
              rs,
              (r) => r.variant,
              (r) => r.usPerToken,
            ),
            ...seriesBy(
              ps,
              (r) => `${r.variant} (peer)`,
              (r) => r.usPerToken,
              true,
            ),
          ],
        }),
      });
      const mtitle = `Peak memory vs length — ${b}, ${passLabel(p)}`;
      charts.push({
        file: `memory-${slug(b)}-${p}.svg`,
        title: mtitle,
        svg: lineChart({
          title: mtitle,
          xLabel: 'sequence length L',
          yLabel: 'peak MiB (backend memory())',
          logX: true,
          logY: true,
          xTickLabel: lengthLabel,
          series: [
            ...seriesBy(
              rs,
              (r) => r.variant,
              (r) => (r.peakBytes === null ? null : r.peakBytes / 2 ** 20),
            ),
            ...seriesBy(
              ps,
              (r) => `${r.variant} (peer)`,
              (r) => (r.peakBytes === null ? null : r.peakBytes / 2 ** 20),
              true,
            ),
          ],
        }),
      });
    }
  for (const b of backends) {
    const rs = att.filter(
      (r) => r.backend === b && r.pass === (passes[0] ?? 'forward') && hashesOf(r.variant) !== undefined && r.meanRelError !== null,
    );
    if (rs.length === 0) continue;
    const byLength = new Map<number, { x: number; y: number }[]>();
    for (const r of rs) {
      if (!byLength.has(r.length)) byLength.set(r.length, []);
      byLength.get(r.length)!.push({ x: hashesOf(r.variant)!, y: r.meanRelError! });
    }
    const title = `LSH error vs hash rounds — ${b}`;
    charts.push({
      file: `accuracy-${slug(b)}.svg`,
      title,
      svg: lineChart({
        title,
        xLabel: 'nHashes',
        yLabel: 'mean relative error vs full',
        logX: true,
        logY: true,
        series: [...byLength].sort((a, c) => a[0] - c[0]).map(([L, points]) => ({ name: `L = ${lengthLabel(L)}`, points })),
      }),
    });
  }
  const model = records.filter((r) => r.kind === 'model' && ok(r));
  for (const b of [...new Set(model.map((r) => r.backend))]) {
    const rs = model.filter((r) => r.backend === b);
    const key = (r: MeasurementRecord) => `${r.variant}, ${r.depth} layers`;
    for (const [field, label, fileKey] of [
      ['medianMs', 'ms per training step', 'time'],
      ['peakBytes', 'peak MiB', 'memory'],
    ] as const) {
      const title = `Training step ${fileKey === 'time' ? 'time' : 'peak memory'} vs length — ${b}`;
      charts.push({
        file: `model-${fileKey}-${slug(b)}.svg`,
        title,
        svg: lineChart({
          title,
          xLabel: 'sequence length L',
          yLabel: label,
          logX: true,
          logY: true,
          xTickLabel: lengthLabel,
          series: seriesBy(rs, key, (r) => (r[field] === null ? null : field === 'peakBytes' ? r[field]! / 2 ** 20 : r[field])),
        }),
      });
    }
  }
  return charts;
}
