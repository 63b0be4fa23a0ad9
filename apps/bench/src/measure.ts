/**
 * Timing and memory of one case: warm-up, then timed runs until the repeat count or the case's time
 * budget; median, spread and peak bytes. Works on anything that runs asynchronously (our backends, the
 * peer baselines), in Node and in the browser.
 *
 * @module
 */

/** What {@link timeRuns} measured. */
export interface Timing {
  timesMs: number[];
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** (max − min) / median. */
  spread: number;
  /** Largest peak bytes of a timed run, or null where the runner has no memory accounting. */
  peakBytes: number | null;
  /** Live bytes when the last timed run started. */
  baseBytes: number | null;
}

/** How to account memory around a run: reset the peak, then read live and peak bytes. */
export interface MemoryProbe {
  reset(): void;
  live(): number;
  peak(): number;
}

/** Options of {@link timeRuns}. */
export interface TimeRunsOptions {
  warmup: number;
  repeats: number;
  /** Stop repeating once the timed runs took this long (at least one timed run always happens). */
  budgetMs: number;
  memory?: MemoryProbe | undefined;
  /** Called before every timed run (e.g. a garbage collection). */
  beforeRun?: (() => void) | undefined;
  /** Returns milliseconds; default `performance.now()`. */
  now?: () => number;
}

/** The median of a non-empty list. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('median of an empty list');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Runs `run` `warmup` times untimed, then timed until `repeats` runs or `budgetMs` spent; each timed run
 * ends when `run`'s promise resolves (the runner reads its results back, so asynchronous backends are
 * timed to completion). A warm-up run that alone exceeds the budget ends the warm-up early.
 */
export async function timeRuns(run: () => Promise<void>, options: TimeRunsOptions): Promise<Timing> {
  const now = options.now ?? (() => performance.now());
  for (let i = 0; i < options.warmup; i++) {
    const t0 = now();
    await run();
    if (now() - t0 > options.budgetMs) break;
  }
  const timesMs: number[] = [];
  let peakBytes: number | null = options.memory ? 0 : null;
  let baseBytes: number | null = null;
  let spent = 0;
  while (timesMs.length < options.repeats && (timesMs.length === 0 || spent < options.budgetMs)) {
    options.beforeRun?.();
    if (options.memory) {
      options.memory.reset();
      baseBytes = options.memory.live();
    }
    const t0 = now();
    await run();
    const dt = now() - t0;
    timesMs.push(dt);
    spent += dt;
    if (options.memory) peakBytes = Math.max(peakBytes ?? 0, options.memory.peak());
  }
  const medianMs = median(timesMs);
  const minMs = Math.min(...timesMs);
  const maxMs = Math.max(...timesMs);
  return { timesMs, medianMs, minMs, maxMs, spread: medianMs > 0 ? (maxMs - minMs) / medianMs : 0, peakBytes, baseBytes };
}
