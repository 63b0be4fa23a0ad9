/**
 * The progress output of `reformer-train`: durations, one progress line per step, and the TTY bar.
 * @module
 */
import type { Metrics } from '../tasks/task.js';
import type { TrainProgress } from '../train/train.js';

/** `1h02m`, `3m12s`, `45s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

function formatRate(tokensPerSecond: number): string {
  return tokensPerSecond >= 1000 ? `${(tokensPerSecond / 1000).toFixed(1)}k` : tokensPerSecond.toFixed(0);
}

/** Metrics as `loss 1.2345  accuracy 98.20%` (keys starting with `accuracy` as percentages). */
export function formatMetrics(m: Metrics): string {
  return Object.entries(m)
    .map(([k, v]) => (k.startsWith('accuracy') ? `${k} ${(100 * v).toFixed(2)}%` : `${k} ${v.toFixed(4)}`))
    .join('  ');
}

/** One progress line (plain output) or the text after the bar (TTY). */
export function progressLine(p: TrainProgress): string {
  const width = String(p.steps).length;
  return (
    `step ${String(p.step).padStart(width)}/${p.steps}  loss ${p.loss.toFixed(4)}  lr ${p.lr.toExponential(2)}  |g| ${p.gradNorm.toFixed(3)}  ` +
    `${formatRate(p.tokensPerSecond)} tok/s  ETA ${formatDuration(p.etaSeconds)}`
  );
}

/** A one-line progress bar: `[#####.....] 50%` followed by the progress line. */
export function progressBar(p: TrainProgress, width = 24): string {
  const filled = Math.round((width * p.step) / p.steps);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${progressLine(p)}`;
}
