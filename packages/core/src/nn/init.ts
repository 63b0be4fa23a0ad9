import { randomNormal, randomUniform, zeros } from '../ops/creation.js';
import { checkSeed, deriveSeed, nextSeed } from '../random.js';
import type { Shape } from '../types.js';
import type { Tensor } from '../tensor.js';
import { checkNonNegative } from '../validate.js';

let skipDepth = 0;

/**
 * Runs `fn` with parameter initialisation skipped: the modules it builds get zero-filled parameters
 * instead of random draws — for weights a checkpoint is about to overwrite (Hugging Face's
 * `no_init_weights`). Seeds are still drawn as usual, so the global seed stream after `fn` is the same
 * as after an initialising build.
 */
export function withoutInit<T>(fn: () => T): T {
  skipDepth += 1;
  try {
    return fn();
  } finally {
    skipDepth -= 1;
  }
}

/** A parameter's initial value from N(0, std²), or zeros inside {@link withoutInit}. */
export function initNormal(shape: Shape, options: { seed: number; std: number }): Tensor {
  return skipDepth > 0 ? zeros(shape) : randomNormal(shape, options);
}

/** A parameter's initial value from U(min, max), or zeros inside {@link withoutInit}. */
export function initUniform(shape: Shape, options: { seed: number; min: number; max: number }): Tensor {
  return skipDepth > 0 ? zeros(shape) : randomUniform(shape, options);
}

/**
 * How a weight matrix is initialised: `'uniform'` is PyTorch's default for linear layers
 * (U(−1/√fanIn, 1/√fanIn)); `{ std }` draws N(0, std²) (Hugging Face uses std 0.02).
 */
export type WeightInit = 'uniform' | { readonly std: number };

/**
 * `count` independent seeds for the parameters of one module: derived from `seed` when given (so
 * the same seed gives the same weights on every backend), else from `nextSeed()`.
 * @internal
 */
export function parameterSeeds(where: string, seed: number | undefined, count: number): number[] {
  if (seed !== undefined) checkSeed(seed, where);
  const base = seed ?? nextSeed();
  return Array.from({ length: count }, (_, i) => deriveSeed(base, i));
}

/** Checks a `{ std }` init option. @internal */
export function checkStd(where: string, init: { readonly std: number }): number {
  return checkNonNegative(where, 'init.std', init.std);
}
