/**
 * A small SVG line-chart writer (no chart library): linear or log axes, tick labels, a legend, dashed
 * series. Output is a standalone, well-formed SVG document.
 *
 * @module
 */

/** One line of a chart. */
export interface Series {
  name: string;
  points: { x: number; y: number }[];
  /** Drawn dashed (peer baselines). */
  dashed?: boolean;
}

/** What to draw. */
export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  logY?: boolean;
  series: Series[];
  /** Tick labels for x; default: the distinct x values when ≤ 12 of them, else nice ticks. */
  xTickLabel?: (x: number) => string;
  width?: number;
  height?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

/** Escapes text for SVG/XML content and attributes. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function niceLinearTicks(lo: number, hi: number, n = 5): number[] {
  if (hi <= lo) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function logTicks(lo: number, hi: number): number[] {
  const a = Math.floor(Math.log10(lo));
  const b = Math.ceil(Math.log10(hi));
  const decades: number[] = [];
  for (let e = a; e <= b; e++) decades.push(10 ** e);
  const inside = (v: number) => v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9);
  if (b - a <= 2) {
    const fine: number[] = [];
    for (const d of decades) for (const m of [1, 2, 5]) if (inside(d * m)) fine.push(d * m);
    if (fine.length >= 2) return fine;
  }
  const ds = decades.filter(inside);
  return ds.length >= 2 ? ds : [lo, hi];
}

/** A compact number label: 1.5k, 2M, 0.001, 1e-5. */
export function shortNumber(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  if (a >= 0.01) return String(Number(v.toPrecision(3)));
  return v.toExponential(0);
}

/** Renders a line chart as an SVG document. Non-positive values are left out on a log axis. */
export function lineChart(spec: ChartSpec): string {
  const W = spec.width ?? 640;
  const H = spec.height ?? 400;
  const m = { left: 70, right: 190, top: 40, bottom: 50 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const usable = (p: { x: number; y: number }) =>
    Number.isFinite(p.x) && Number.isFinite(p.y) && (!spec.logX || p.x > 0) && (!spec.logY || p.y > 0);
  const series = spec.series
    .map((s) => ({ ...s, points: s.points.filter(usable).sort((a, b) => a.x - b.x) }))
    .filter((s) => s.points.length > 0);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${xmlEscape(spec.title)}</title>`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${m.left + pw / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${xmlEscape(spec.title)}</text>`,
  );
  if (series.length === 0) {
    parts.push(`<text x="${m.left + pw / 2}" y="${m.top + ph / 2}" text-anchor="middle" fill="#666">no data</text>`, '</svg>');
    return parts.join('\n');
  }
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = series.flatMap((s) => s.points.map((p) => p.y));
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) [x0, x1] = spec.logX ? [x0 / 2, x1 * 2] : [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = spec.logY ? [y0 / 2, y1 * 2] : [y0 - 1, y1 + 1];
  if (spec.logY) [y0, y1] = [y0 / 1.15, y1 * 1.15];
  else if (y0 >= 0) y0 = 0;
  const tx = (v: number) => m.left + (spec.logX ? (Math.log(v) - Math.log(x0)) / (Math.log(x1) - Math.log(x0)) : (v - x0) / (x1 - x0)) * pw;
  const ty = (v: number) =>
    m.top + ph - (spec.logY ? (Math.log(v) - Math.log(y0)) / (Math.log(y1) - Math.log(y0)) : (v - y0) / (y1 - y0)) * ph;
  const f = (v: number) => v.toFixed(1);

  // Axes and grid.
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  const distinctX = [...new Set(xs)].sort((a, b) => a - b);
  const xTicks = distinctX.length <= 12 ? distinctX : spec.logX ? logTicks(x0, x1) : niceLinearTicks(x0, x1);
  const xLabel = spec.xTickLabel ?? shortNumber;
  for (const v of xTicks) {
    const X = tx(v);
    parts.push(
      `<line x1="${f(X)}" y1="${m.top}" x2="${f(X)}" y2="${m.top + ph}" stroke="#ddd"/>`,
      `<text x="${f(X)}" y="${m.top + ph + 16}" text-anchor="middle">${xmlEscape(xLabel(v))}</text>`,
    );
  }
  for (const v of spec.logY ? logTicks(y0, y1) : niceLinearTicks(y0, y1)) {
    const Y = ty(v);
    parts.push(
      `<line x1="${m.left}" y1="${f(Y)}" x2="${m.left + pw}" y2="${f(Y)}" stroke="#ddd"/>`,
      `<text x="${m.left - 6}" y="${f(Y + 4)}" text-anchor="end">${xmlEscape(shortNumber(v))}</text>`,
    );
  }
  parts.push(
    `<text x="${m.left + pw / 2}" y="${H - 12}" text-anchor="middle">${xmlEscape(spec.xLabel)}${spec.logX ? ' (log)' : ''}</text>`,
    `<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${xmlEscape(spec.yLabel)}${spec.logY ? ' (log)' : ''}</text>`,
  );

  // Series and legend.
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    const d = s.points.map((p, j) => `${j ? 'L' : 'M'}${f(tx(p.x))} ${f(ty(p.y))}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${dash}><title>${xmlEscape(s.name)}</title></path>`);
    for (const p of s.points) parts.push(`<circle cx="${f(tx(p.x))}" cy="${f(ty(p.y))}" r="3" fill="${color}"/>`);
    const ly = m.top + 10 + i * 18;
    parts.push(
      `<line x1="${m.left + pw + 12}" y1="${ly}" x2="${m.left + pw + 36}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`,
      `<text x="${m.left + pw + 42}" y="${ly + 4}">${xmlEscape(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}
