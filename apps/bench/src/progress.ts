/**
 * Progress while the benchmark runs: a one-line bar redrawn in place on a TTY, plain lines otherwise
 * (CI logs, pipes).
 *
 * @module
 */
import type { ProgressEvent } from './runner.js';
import { err, lengthLabel, sig } from './report/format.js';
import type { MeasurementRecord } from './types.js';

/** Something progress text is written to (process.stderr, or a test's collector). */
export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** A one-line summary of a finished record. */
export function describeRecord(r: MeasurementRecord): string {
  const head = `${r.backend} ${r.variant}${r.depth !== undefined ? ` ×${r.depth}` : ''}${r.length ? ` L=${lengthLabel(r.length)}` : ''} ${r.pass === 'forward' ? 'fwd' : 'fwd+bwd'}`;
  if (r.status !== 'ok') return `${head}: ${r.status}${r.reason ? ` (${r.reason})` : ''}`;
  const acc = r.meanRelError !== null ? `, err ${err(r.meanRelError)}` : '';
  const mem = r.peakBytes !== null ? `, peak ${sig(r.peakBytes / 2 ** 20)} MiB` : '';
  return `${head}: ${sig(r.medianMs!)} ms (${sig(r.usPerToken!)} µs/token)${mem}${acc}`;
}

/** Renders progress events to a stream. */
export class Progress {
  private started = Date.now();
  private lastLabel = '';
  private done = 0;
  private total = 1;

  constructor(
    private readonly out: ProgressStream,
    private readonly tty = out.isTTY === true,
  ) {}

  /** Handles one runner event. */
  update(e: ProgressEvent): void {
    if (e.type === 'start') {
      this.total = Math.max(1, e.total);
      return;
    }
    if (e.type === 'info') {
      this.line(e.message);
      return;
    }
    this.done = e.done;
    this.total = Math.max(1, e.total);
    if (e.type === 'case') {
      this.lastLabel = e.label;
      if (this.tty) this.bar();
    } else {
      this.line(`[${e.done}/${e.total}] ${describeRecord(e.record)}`);
    }
  }

  /** Clears the bar (before the final table). */
  finish(): void {
    if (this.tty) this.out.write('\r\x1b[K');
  }

  private line(s: string): void {
    if (this.tty) this.out.write(`\r\x1b[K${s}\n`);
    else this.out.write(`${s}\n`);
    if (this.tty) this.bar();
  }

  private bar(): void {
    const width = 24;
    const frac = Math.min(1, this.done / this.total);
    const filled = Math.round(frac * width);
    const secs = Math.round((Date.now() - this.started) / 1000);
    const text = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${this.total} ${secs}s ${this.lastLabel}`;
    const cols = this.out.columns ?? 100;
    this.out.write(`\r\x1b[K${text.slice(0, cols - 1)}`);
  }
}
