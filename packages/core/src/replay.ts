/**
 * Replayable state: a layer computes something non-differentiable in its forward pass (LSH buckets,
 * say) and a later recompute of the same forward (a reversible layer's backward) must see exactly the
 * same value instead of computing it again. Together with `seedScope` (which replays randomness) this
 * makes any forward pass replayable without the layer knowing who replays it.
 *
 * ```ts
 * const rec = new ReplayRecord();
 * const y = rec.record(() => layer.forward(x));   // values from replayable() are saved, in call order
 * const y2 = rec.replay(() => layer.forward(x));  // the same calls return the saved values
 * rec.dispose();
 * ```
 */
import { ReformerError } from './errors.js';
import { keep } from './engine.js';
import { clone } from './ops/layout.js';
import type { Tensor } from './tensor.js';

interface Frame {
  readonly record: ReplayRecord;
  readonly mode: 'record' | 'replay';
  cursor: number;
}

const frames: Frame[] = [];

/** A replay record: the values `replayable()` produced while recording, in call order. */
export class ReplayRecord {
  readonly #values: Tensor[] = [];

  /**
   * A record that replays `values` in order, as if they had been recorded (it holds its own views;
   * the caller keeps ownership of `values`). With {@link ReplayRecord.values} this lets a caller keep
   * a record's state somewhere else, e.g. among a `customGrad`'s saved tensors.
   */
  static from(values: readonly Tensor[]): ReplayRecord {
    const rec = new ReplayRecord();
    for (const v of values) rec._save(v);
    return rec;
  }

  /** The recorded values in call order (owned by the record: clone one to keep it longer). */
  get values(): readonly Tensor[] {
    return this.#values;
  }

  /** Runs `fn`, saving the value of every `replayable()` call inside it (replacing earlier ones). */
  record<T>(fn: () => T): T {
    this.clear();
    return this.run('record', fn);
  }

  /** Runs `fn`; its `replayable()` calls return the recorded values in the same order. */
  replay<T>(fn: () => T): T {
    return this.run('replay', fn);
  }

  /** @internal Saves a view of `value` (used by `replayable`). */
  _save(value: Tensor): void {
    this.#values.push(keep(clone(value)));
  }

  /** Number of recorded values. */
  get size(): number {
    return this.#values.length;
  }

  /** Frees the recorded values. */
  dispose(): void {
    this.clear();
  }

  private clear(): void {
    for (const t of this.#values) t.dispose();
    this.#values.length = 0;
  }

  private run<T>(mode: Frame['mode'], fn: () => T): T {
    frames.push({ record: this, mode, cursor: 0 });
    try {
      return fn();
    } finally {
      frames.pop();
    }
  }
}

/**
 * Returns `compute()`, except inside `ReplayRecord.replay`, where it returns (a view of) the value the
 * same call produced while recording — `compute` is then not run. Outside any record it just computes.
 * Use it for values a recompute must not change: LSH buckets, sampled indices.
 */
export function replayable(compute: () => Tensor): Tensor {
  const frame = frames[frames.length - 1];
  if (!frame) return compute();
  if (frame.mode === 'record') {
    const value = compute();
    frame.record._save(value);
    return value;
  }
  const saved = frame.record.values[frame.cursor++];
  if (!saved) {
    throw new ReformerError(
      `replayable(): the replayed forward asked for value #${frame.cursor} but only ${frame.record.values.length} were recorded; ` +
        'a replayed function must make the same replayable() calls in the same order as when it was recorded.',
    );
  }
  return clone(saved);
}
