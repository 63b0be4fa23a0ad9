/**
 * What every suite of `pnpm bench -- --suite NAME` returns, how it is printed, and the pieces the suites
 * share (memory accounting of core's active backend, number formatting).
 *
 * @module
 */
import { memory, resetPeak } from '@reformer/core';
import type { BackendStarter } from '../backends.js';
import type { MemoryProbe } from '../measure.js';

/** One row of a suite table: column name → figure (`null`: not measured). */
export type SuiteRow = Record<string, string | number | null>;

/** A table of a suite report. */
export interface SuiteTable {
  title: string;
  /** Column names, in order; every row has these keys. */
  columns: string[];
  rows: SuiteRow[];
}

/** What a suite measured. */
export interface SuiteReport {
  suite: string;
  /** One line saying what was measured, where. */
  title: string;
  tables: SuiteTable[];
  /** Lines printed after the tables (targets, explanations). */
  notes: string[];
}

/** The options every suite has: where to write its report as JSON (`--json FILE`) and `--help`. */
export interface SuiteOutputOptions {
  /** `--json FILE`: also write the report there. */
  json?: string | undefined;
  /** `--help`: print the suite's flags instead of running it. */
  help: boolean;
}

/** What a suite gets from where it runs. */
export interface SuiteContext {
  /** Starts a backend by name (the CLI: `startNodeBackend`). */
  startBackend: BackendStarter;
  /** Progress lines (the CLI: stderr). */
  log(line: string): void;
  /** A garbage collection before timed runs, where the runtime exposes one. */
  gc?: (() => void) | undefined;
  /** CPU milliseconds of the process so far (every thread), where the runtime can tell (Node). */
  cpuClockMs?: (() => number) | undefined;
}

/** Live and peak bytes of core's active backend, for `timeRuns`. */
export const coreMemoryProbe: MemoryProbe = {
  reset: () => resetPeak(),
  live: () => memory().liveBytes,
  peak: () => memory().peakBytes,
};

/** A figure as a table cell: three significant figures at most, `—` when absent. */
export function formatCell(value: string | number | null): string {
  if (value === null) return '—';
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  const a = Math.abs(value);
  return value.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : a >= 0.1 ? 2 : 3);
}

/** A table as markdown (numbers right-aligned). */
export function formatTable(table: SuiteTable): string {
  const cells = table.rows.map((r) => table.columns.map((c) => formatCell(r[c] ?? null)));
  const widths = table.columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const numeric = table.columns.map((c) => table.rows.every((r) => typeof r[c] !== 'string'));
  const line = (row: string[]) =>
    `| ${row.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (numeric[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [`${table.title}\n`, line(table.columns), rule, ...cells.map(line)].join('\n');
}

/** A whole report as text: title, tables, notes. */
export function formatReport(report: SuiteReport): string {
  return [report.title, ...report.tables.map(formatTable), ...(report.notes.length ? [report.notes.join('\n')] : [])].join('\n\n');
}

/** Bytes → MiB. */
export function mib(bytes: number): number {
  return bytes / 2 ** 20;
}
