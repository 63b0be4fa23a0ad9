import { InvalidArgumentError } from '../errors.js';
import { checkInteger, checkNonNegative } from '../validate.js';

/** A learning-rate schedule: step number (1 for the first step) → learning rate. */
export type Schedule = (step: number) => number;

/** The same learning rate at every step. */
export function constantSchedule(lr: number): Schedule {
  checkNonNegative('constantSchedule', 'lr', lr);
  return () => lr;
}

/** Options of {@link warmupRsqrtSchedule}. */
export interface WarmupRsqrtOptions {
  /** The learning rate at the end of the warmup. */
  peak: number;
  /** Steps of linear warmup (≥ 1). */
  warmupSteps: number;
}

/**
 * Linear warmup then reciprocal-square-root decay (trax's `multifactor` "constant * linear_warmup *
 * rsqrt_decay"): `peak · min(step/warmupSteps, √(warmupSteps/step))`.
 */
export function warmupRsqrtSchedule(options: WarmupRsqrtOptions): Schedule {
  const { peak, warmupSteps } = options;
  checkNonNegative('warmupRsqrtSchedule', 'peak', peak);
  checkInteger('warmupRsqrtSchedule', 'warmupSteps', warmupSteps, 1);
  return (step) => peak * Math.min(step / warmupSteps, Math.sqrt(warmupSteps / Math.max(step, 1)));
}

/** Options of {@link cosineSchedule}. */
export interface CosineScheduleOptions {
  /** The learning rate at the end of the warmup. */
  peak: number;
  /** Steps of linear warmup from 0 to `peak` (0: none). */
  warmupSteps: number;
  /** Step at which the decay reaches `minLr` (it stays there afterwards); must exceed `warmupSteps`. */
  totalSteps: number;
  /** Final learning rate (default 0). */
  minLr?: number;
}

/**
 * Linear warmup to `peak` (`peak·step/warmupSteps` for step < warmupSteps), then half-cosine decay to
 * `minLr`: `minLr + (peak − minLr)·½(1 + cos(π·p))` with `p = (step − warmupSteps)/(totalSteps −
 * warmupSteps)` clamped to [0, 1].
 *
 * Optimizer steps count from 1, so step `totalSteps` itself runs at `minLr`: with the default
 * `minLr = 0` and `totalSteps` equal to the run's length, the last step changes nothing. Pass
 * `totalSteps: steps + 1` to decay towards 0 without reaching it within the run.
 */
export function cosineSchedule(options: CosineScheduleOptions): Schedule {
  const { peak, warmupSteps, totalSteps, minLr = 0 } = options;
  checkNonNegative('cosineSchedule', 'peak', peak);
  checkInteger('cosineSchedule', 'warmupSteps', warmupSteps, 0);
  checkInteger('cosineSchedule', 'totalSteps', totalSteps, 0);
  checkNonNegative('cosineSchedule', 'minLr', minLr);
  if (totalSteps <= warmupSteps) {
    throw new InvalidArgumentError(`cosineSchedule: totalSteps (${totalSteps}) must exceed warmupSteps (${warmupSteps}).`);
  }
  return (step) => {
    if (step < warmupSteps) return (peak * step) / warmupSteps;
    const p = Math.min(1, Math.max(0, (step - warmupSteps) / (totalSteps - warmupSteps)));
    return minLr + (peak - minLr) * 0.5 * (1 + Math.cos(Math.PI * p));
  };
}
