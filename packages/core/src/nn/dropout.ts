import { dropout } from '../ops/fused.js';
import { clone } from '../ops/layout.js';
import { checkSeed, deriveSeed, nextSeed } from '../random.js';
import type { Tensor } from '../tensor.js';
import { checkRate } from '../validate.js';
import { Module } from './module.js';

/** Options of {@link Dropout}. */
export interface DropoutOptions {
  /** Probability of zeroing an element, in [0, 1). */
  rate: number;
  /**
   * Optional per-module seed, mixed into every mask seed: two dropout layers with different seeds
   * draw different masks even at the same position of the seed stream. It does not replace the
   * stream (see {@link Dropout}).
   */
  seed?: number;
}

/**
 * Inverted dropout. In evaluation mode, or with `rate` 0, `forward` is the identity (a free view).
 * In training mode each call zeroes elements with probability `rate` and scales the rest by
 * `1/(1 − rate)`.
 *
 * Masks are replayable: each call draws its mask seed with `nextSeed()`, i.e. from the innermost
 * `seedScope` (or the global stream, see `setGlobalSeed`). Running the same code again inside
 * `seedScope(s, ...)` with the same `s` gives the same masks, which is how reversible layers
 * recompute their forward pass exactly. With a module `seed`, the mask seed is
 * `deriveSeed(seed, nextSeed())`, still replayable in the same way.
 */
export class Dropout extends Module {
  /** Probability of zeroing an element. */
  readonly rate: number;
  /** The per-module seed, if any. */
  readonly seed: number | undefined;

  /** A dropout layer (no parameters). */
  constructor(options: DropoutOptions) {
    super();
    const { rate, seed } = options;
    checkRate('Dropout', 'rate', rate);
    if (seed !== undefined) checkSeed(seed, 'Dropout');
    this.rate = rate;
    this.seed = seed;
  }

  /** Applies dropout in training mode; identity (a view of `x`) otherwise. */
  forward(x: Tensor): Tensor {
    if (!this.training || this.rate === 0) return clone(x);
    const streamSeed = nextSeed();
    return dropout(x, this.rate, this.seed === undefined ? streamSeed : deriveSeed(this.seed, streamSeed));
  }
}
