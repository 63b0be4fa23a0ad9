/**
 * Markdown output: the results table (also what the CLI prints) and the findings of a run.
 *
 * @module
 */
import type { BenchResult, MeasurementRecord, Pass } from '../types.js';
import { VARIANT_NAMES } from '../types.js';
import { err, lengthLabel, mib, sig } from './format.js';
import { crossover, growth, peerRatios } from './summary.js';

/** Column headers of the results table. */
export const TABLE_COLUMNS = [
  'backend',
  'variant',
  'L',
  'pass',
  'median ms',
  'spread',
  'µs/token',
  'tokens/s',
  'peak MiB',
  'max abs err',
  'mean rel err',
  'note',
] as const;

const passLabel = (p: Pass) => (p === 'forward' ? 'fwd' : 'fwd+bwd');

/** One table row's cells. */
export function rowCells(r: MeasurementRecord): string[] {
  const variant = r.kind === 'baseline' ? `${r.variant} (peer)` : r.depth !== undefined ? `${r.variant}, ${r.depth} layers` : r.variant;
  if (r.status === 'unavailable') {
    return [r.backend, variant, '—', '—', '—', '—', '—', '—', '—', '—', '—', `unavailable: ${r.reason ?? ''}`];
  }
  const notes: string[] = [];
  if (r.status === 'ok' && r.runs === 1) notes.push('1 timed run');
  if (r.status === 'ok' && r.gpuMs !== undefined && r.gpuMs !== null) notes.push(`GPU ${sig(r.gpuMs)} ms`);
  const note = r.status === 'ok' ? notes.join(', ') : `${r.status}: ${r.reason ?? ''}`;
  return [
    r.backend,
    variant,
    lengthLabel(r.length),
    passLabel(r.pass),
    r.medianMs === null ? '—' : sig(r.medianMs),
    r.spread === null ? '—' : `${Math.round(r.spread * 100)}%`,
    r.usPerToken === null ? '—' : sig(r.usPerToken),
    r.tokensPerSec === null ? '—' : sig(r.tokensPerSec),
    mib(r.peakBytes),
    err(r.maxAbsError),
    err(r.meanRelError),
    note,
  ];
}

const escapePipes = (s: string) => s.replace(/\|/g, '\\|');

/** A markdown table; numeric columns right-aligned, padded so it also reads as plain text. */
export function markdownTable(
  headers: readonly string[],
  rows: readonly string[][],
  numeric: (i: number) => boolean = () => false,
): string {
  const cells = rows.map((r) => r.map(escapePipes));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => `| ${r.map((c, i) => (numeric(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (numeric(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(headers), rule, ...cells.map(line)].join('\n');
}

const variantOrder = (v: string) => {
  const i = (VARIANT_NAMES as readonly string[]).indexOf(v);
  return i < 0 ? 100 : i;
};

/** Records in table order: kind, backend (in run order), pass, variant, length, depth. */
export function sortRecords(records: readonly MeasurementRecord[]): MeasurementRecord[] {
  const backends = [...new Set(records.map((r) => r.backend))];
  const kinds = ['attention', 'baseline', 'model'];
  return [...records].sort(
    (a, b) =>
      kinds.indexOf(a.kind) - kinds.indexOf(b.kind) ||
      backends.indexOf(a.backend) - backends.indexOf(b.backend) ||
      (a.pass === b.pass ? 0 : a.pass === 'forward' ? -1 : 1) ||
      variantOrder(a.variant) - variantOrder(b.variant) ||
      a.variant.localeCompare(b.variant) ||
      (a.depth ?? 0) - (b.depth ?? 0) ||
      a.length - b.length,
  );
}

/** The results table of a set of records. */
export function resultsTable(records: readonly MeasurementRecord[]): string {
  const numeric = (i: number) => i >= 2 && i <= 10 && i !== 3;
  return markdownTable(TABLE_COLUMNS, sortRecords(records).map(rowCells), numeric);
}

/** The findings of a run as markdown bullet lists (crossover, growth, memory, peers). */
export function findings(records: readonly MeasurementRecord[]): string {
  const out: string[] = [];
  const att = records.filter((r) => r.kind === 'attention' && r.status === 'ok');
  const backends = [...new Set(att.map((r) => r.backend))];
  const passes = [...new Set(att.map((r) => r.pass))];
  const lshVariants = [...new Set(att.map((r) => r.variant))].filter((v) => v.startsWith('lsh-')).sort(variantSort);

  out.push(
    '**Where LSH starts beating full attention** (smallest measured length from which LSH is faster at every longer measured length):',
    '',
  );
  for (const b of backends)
    for (const p of passes) {
      const parts = lshVariants.map((v) => {
        const c = crossover(records, b, v, p);
        if (c.compared.length === 0) return `${v}: full attention not measured`;
        if (c.length === null) return `${v}: not within ${lengthLabel(c.compared[c.compared.length - 1]!)}`;
        return `${v}: from ${lengthLabel(c.length)}${c.length === c.compared[0] ? ' (the shortest compared)' : ''}`;
      });
      if (parts.length) out.push(`- ${b}, ${passLabel(p)}: ${parts.join('; ')}`);
    }

  out.push('', '**Time per token from the shortest to the longest length** (flat = linear time; full attention grows with L):', '');
  for (const b of backends)
    for (const p of passes) {
      const parts: string[] = [];
      for (const v of ['full', 'full-chunked', 'local', ...lshVariants]) {
        const g = growth(records, b, v, p, 'usPerToken');
        if (g)
          parts.push(
            `${v} ${sig(g.from)} → ${sig(g.to)} µs (×${sig(g.ratio, 2)}, ${lengthLabel(g.fromLength)}→${lengthLabel(g.toLength)})`,
          );
      }
      if (parts.length) out.push(`- ${b}, ${passLabel(p)}: ${parts.join('; ')}`);
    }
  for (const [pb, pv] of peerKeys(records))
    for (const p of passes) {
      const g = growth(records, pb, pv, p, 'usPerToken');
      if (g)
        out.push(
          `- ${pv} (peer) on ${pb}, ${passLabel(p)}: ${sig(g.from)} → ${sig(g.to)} µs (×${sig(g.ratio, 2)}, ${lengthLabel(g.fromLength)}→${lengthLabel(g.toLength)})`,
        );
    }

  out.push(
    '',
    '**Peak memory from the shortest to the longest length** (×L ratio of the lengths: O(L) grows like it, O(L²) like its square):',
    '',
  );
  for (const b of backends)
    for (const p of passes) {
      const parts: string[] = [];
      for (const v of ['full', 'full-chunked', 'local', ...lshVariants]) {
        const g = growth(records, b, v, p, 'peakBytes');
        if (g) parts.push(`${v} ${mib(g.from)} → ${mib(g.to)} MiB (×${sig(g.ratio, 2)} for L ×${sig(g.toLength / g.fromLength, 2)})`);
      }
      if (parts.length) out.push(`- ${b}, ${passLabel(p)}: ${parts.join('; ')}`);
    }
  for (const [pb, pv] of peerKeys(records))
    for (const p of passes) {
      const g = growth(records, pb, pv, p, 'peakBytes');
      if (g)
        out.push(
          `- ${pv} (peer) on ${pb}, ${passLabel(p)}: ${mib(g.from)} → ${mib(g.to)} MiB (×${sig(g.ratio, 2)} for L ×${sig(g.toLength / g.fromLength, 2)})`,
        );
    }

  const peers = [...new Set(records.filter((r) => r.kind === 'baseline' && r.status === 'ok').map((r) => `${r.backend}|${r.variant}`))];
  if (peers.length) {
    out.push('', '**Our attention against the peer baselines** (peer time ÷ our time at the same length; > 1 means ours is faster):', '');
    for (const key of peers) {
      const [pb, pv] = key.split('|') as [string, string];
      for (const p of passes)
        for (const b of backends)
          for (const v of ['full', lshVariants.includes('lsh-4') ? 'lsh-4' : (lshVariants[0] ?? 'full')]) {
            const rs = peerRatios(records, { backend: b, variant: v }, { backend: pb, variant: pv }, p);
            if (rs.length)
              out.push(
                `- ${pv} on ${pb} vs our ${v} on ${b}, ${passLabel(p)}: ${rs.map((r) => `${lengthLabel(r.length)} ×${sig(r.speedup, 2)}`).join(', ')}`,
              );
          }
    }
  }
  const model = records.filter((r) => r.kind === 'model' && r.status === 'ok');
  const pairs: string[] = [];
  for (const r of model.filter((x) => x.variant === 'reformer')) {
    const t = model.find((x) => x.variant === 'transformer' && x.length === r.length && x.depth === r.depth && x.backend === r.backend);
    if (!t) continue;
    pairs.push(
      `- ${r.backend}, ${r.depth} layers, L ${lengthLabel(r.length)}: time ${sig(r.medianMs!)} vs ${sig(t.medianMs!)} ms (transformer ÷ reformer ×${sig(t.medianMs! / r.medianMs!, 2)}); ` +
        `peak ${mib(r.peakBytes)} vs ${mib(t.peakBytes)} MiB (×${r.peakBytes && t.peakBytes ? sig(t.peakBytes / r.peakBytes, 2) : '—'})`,
    );
  }
  if (pairs.length) {
    out.push('', '**One training step, Reformer vs the same model without its techniques** (reformer vs transformer):', '', ...pairs);
  }
  // Each backend against the CPU reference on the same attention variant (e.g. tfjs-wasm's speed-up over cpu).
  const vsCpu: string[] = [];
  if (backends.includes('cpu'))
    for (const b of backends.filter((x) => x !== 'cpu'))
      for (const v of [...new Set(att.map((r) => r.variant))])
        for (const p of passes) {
          const rs = peerRatios(records, { backend: b, variant: v }, { backend: 'cpu', variant: v }, p);
          if (rs.length)
            vsCpu.push(
              `- ${b} vs cpu, ${v}, ${passLabel(p)}: ${rs.map((r) => `${lengthLabel(r.length)} ×${sig(r.speedup, 2)}`).join(', ')}`,
            );
        }
  if (vsCpu.length)
    out.push(
      '',
      '**Each backend against the CPU reference** (cpu time ÷ its time, same variant and length; > 1 means faster than cpu):',
      '',
      ...vsCpu,
    );
  // Drop repeated bullet lines (the peer fallback can name the same pair twice), keep blank lines.
  return out.filter((line, i) => line === '' || !line.startsWith('- ') || out.indexOf(line) === i).join('\n');
}

function peerKeys(records: readonly MeasurementRecord[]): [string, string][] {
  const keys = [...new Set(records.filter((r) => r.kind === 'baseline' && r.status === 'ok').map((r) => `${r.backend}|${r.variant}`))];
  return keys.map((k) => k.split('|') as [string, string]);
}

function variantSort(a: string, b: string): number {
  return variantOrder(a) - variantOrder(b);
}

/**
 * A whole markdown document for a run: machine, configuration, then the table and the findings
 * (`layout: 'table-first'`, what `--markdown` writes), or the findings, the charts and the table last
 * (`'findings-first'`, the committed report).
 */
export function markdownReport(
  result: BenchResult,
  charts: { title: string; file: string }[] = [],
  layout: 'table-first' | 'findings-first' = 'table-first',
): string {
  const m = result.machine;
  const c = result.config;
  const head = [
    `Machine: ${m.cpuModel}, ${m.cores} cores${m.memoryBytes ? `, ${sig(m.memoryBytes / 2 ** 30)} GiB` : ''}; ${m.runtime} on ${m.platform}.`,
    '',
    ...Object.entries(m.backends).map(([k, v]) => `- ${k}: ${v}`),
    '',
    `Configuration: batch ${c.batch}, ${c.heads} head${c.heads === 1 ? '' : 's'}, dHead ${c.dHead}, chunk ${c.chunkLength}, ${c.inputs} inputs (seed ${c.seed}), ` +
      `up to ${c.repeats} timed runs per case after ${c.warmup} warm-up, full attention while its estimate stays under ${sig(c.fullBudgetMs / 1000)} s; ` +
      `wall ${sig(result.wallSeconds)} s${result.interrupted ? ' (interrupted: partial results)' : ''}.`,
  ];
  const chartLines: string[] = [];
  if (charts.length) {
    chartLines.push('## Charts', '');
    for (const ch of charts) chartLines.push(`### ${ch.title}`, '', `![${ch.title}](${ch.file})`, '');
  }
  if (layout === 'findings-first') {
    return [
      ...head,
      '',
      '## Findings',
      '',
      findings(result.records),
      '',
      ...chartLines,
      '## All measurements',
      '',
      resultsTable(result.records),
      '',
    ].join('\n');
  }
  return [...head, '', resultsTable(result.records), '', findings(result.records), '', ...chartLines].join('\n');
}
