import { add, div, maximum, mul, rsqrt, sqrt, square, sub } from '../ops/elementwise.js';
import { zeros, zerosLike } from '../ops/creation.js';
import { expandDims } from '../ops/layout.js';
import { mean } from '../ops/reduce.js';
import { withBackend } from '../engine.js';
import type { Tensor } from '../tensor.js';
import { checkNumber } from '../validate.js';
import { Optimizer, s, type LearningRate, type OptimizerParams, type ParamUpdate } from './optimizer.js';

/** Options of {@link Adafactor}. Defaults are trax's (the Reformer's optimizer). */
export interface AdafactorOptions {
  /**
   * Learning rate or schedule. Default: the relative step size `min(1e-2, 1/√t)` (Shazeer & Stern
   * §8, as fairseq / Hugging Face `relative_step`).
   */
  lr?: LearningRate;
  /** Momentum on the update (default 0: off, no momentum slot). */
  beta1?: number;
  /** Second-moment decay exponent: β2ₜ = 1 − t^(−decayRate) (default 0.8). */
  decayRate?: number;
  /** Added to g² before averaging (default 1e-30). */
  eps1?: number;
  /** Lower bound of the parameter scale RMS(p) (default 1e-3). */
  eps2?: number;
  /** Update clipping: u ← u / max(1, RMS(u)/clipThreshold) (default 1; 0 or Infinity: off). */
  clipThreshold?: number;
  /** Scale the step by max(eps2, RMS(p)) (default true). */
  multiplyByParameterScale?: boolean;
  /** Factor the second moments of parameters of rank ≥ 2 (default true). */
  factored?: boolean;
  /** Weight decay as trax: p ← (1 − wd)·p − update (default 0). */
  weightDecay?: number;
}

/**
 * Adafactor (Shazeer & Stern 2018, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost"),
 * the optimizer of the Reformer paper, with trax's defaults. At step t, for a parameter p with
 * gradient g:
 *
 * - β2ₜ = 1 − t^(−decayRate);
 * - rank ≥ 2 (factored, over the last two axes): R ← β2ₜ·R + (1−β2ₜ)·rowMean(g² + eps1),
 *   C ← β2ₜ·C + (1−β2ₜ)·colMean(g² + eps1), v̂ = R·Cᵀ / mean(R) and u = g/√v̂
 *   (slots `exp_avg_sq_row` `[..., rows]` and `exp_avg_sq_col` `[..., cols]`);
 * - rank < 2: v ← β2ₜ·v + (1−β2ₜ)·(g² + eps1), u = g/√v (slot `exp_avg_sq`);
 * - clipping: u ← u / max(1, RMS(u)/clipThreshold);
 * - step: u ← lrₜ · max(eps2, RMS(p)) · u (without the RMS factor if `multiplyByParameterScale` is off);
 * - momentum (beta1 > 0): m ← β1·m + (1−β1)·u, u ← m (slot `exp_avg`);
 * - p ← (1 − weightDecay)·p − u.
 */
export class Adafactor extends Optimizer {
  /** Momentum factor (0: off). */
  readonly beta1: number;
  /** Second-moment decay exponent. */
  readonly decayRate: number;
  /** Added to g². */
  readonly eps1: number;
  /** Lower bound of the parameter scale. */
  readonly eps2: number;
  /** Update clipping threshold (0 or Infinity: off). */
  readonly clipThreshold: number;
  /** Whether the step is scaled by max(eps2, RMS(p)). */
  readonly multiplyByParameterScale: boolean;
  /** Whether second moments of rank ≥ 2 parameters are factored. */
  readonly factored: boolean;
  /** Weight decay factor. */
  readonly weightDecay: number;

  /** Creates the optimizer and its zero slots. */
  constructor(params: OptimizerParams, options: AdafactorOptions = {}) {
    super(params, options.lr ?? ((t: number) => Math.min(1e-2, 1 / Math.sqrt(t))));
    const {
      beta1 = 0,
      decayRate = 0.8,
      eps1 = 1e-30,
      eps2 = 1e-3,
      clipThreshold = 1,
      multiplyByParameterScale = true,
      factored = true,
      weightDecay = 0,
    } = options;
    checkNumber('Adafactor', 'beta1', beta1, 0, 1, { maxInclusive: false });
    checkNumber('Adafactor', 'decayRate', decayRate, 0);
    checkNumber('Adafactor', 'eps1', eps1, 0);
    checkNumber('Adafactor', 'eps2', eps2, 0);
    if (clipThreshold !== Infinity) checkNumber('Adafactor', 'clipThreshold', clipThreshold, 0);
    checkNumber('Adafactor', 'weightDecay', weightDecay, 0, 1);
    this.beta1 = beta1;
    this.decayRate = decayRate;
    this.eps1 = eps1;
    this.eps2 = eps2;
    this.clipThreshold = clipThreshold;
    this.multiplyByParameterScale = multiplyByParameterScale;
    this.factored = factored;
    this.weightDecay = weightDecay;
    this.params.forEach((p, i) => {
      if (this.#isFactored(p)) {
        const lead = p.shape.slice(0, -2);
        withBackend(p.backend, () => {
          this.addSlot(i, 'exp_avg_sq_row', zeros([...lead, p.shape[p.rank - 2]!]));
          this.addSlot(i, 'exp_avg_sq_col', zeros([...lead, p.shape[p.rank - 1]!]));
        });
      } else {
        this.addSlot(i, 'exp_avg_sq', zerosLike(p));
      }
      if (beta1 > 0) this.addSlot(i, 'exp_avg', zerosLike(p));
    });
  }

  #isFactored(p: Tensor): boolean {
    return this.factored && p.rank >= 2;
  }

  /** @internal */
  protected update({ param, grad, slots, lr, step }: ParamUpdate): void {
    const beta2 = 1 - step ** -this.decayRate;
    const gsq = add(square(grad), s(this.eps1));
    let u: Tensor;
    if (this.#isFactored(param)) {
      const rSlot = slots.get('exp_avg_sq_row')!;
      const cSlot = slots.get('exp_avg_sq_col')!;
      const r = add(mul(rSlot, s(beta2)), mul(mean(gsq, -1), s(1 - beta2)));
      const c = add(mul(cSlot, s(beta2)), mul(mean(gsq, -2), s(1 - beta2)));
      rSlot.assign(r);
      cSlot.assign(c);
      // 1/√v̂ = (R / mean(R))^(−1/2) ⊗ C^(−1/2)
      const rowFactor = expandDims(rsqrt(div(r, mean(r, -1, true))), -1);
      const colFactor = expandDims(rsqrt(c), -2);
      u = mul(mul(grad, rowFactor), colFactor);
    } else {
      const vSlot = slots.get('exp_avg_sq')!;
      const v = add(mul(vSlot, s(beta2)), mul(gsq, s(1 - beta2)));
      vSlot.assign(v);
      u = mul(grad, rsqrt(v));
    }
    if (this.clipThreshold > 0 && this.clipThreshold !== Infinity) {
      const rmsU = sqrt(mean(square(u)));
      u = div(u, maximum(s(1), div(rmsU, s(this.clipThreshold))));
    }
    const scale = this.multiplyByParameterScale ? mul(maximum(s(this.eps2), sqrt(mean(square(param)))), s(lr)) : s(lr);
    u = mul(u, scale);
    if (this.beta1 > 0) {
      const mSlot = slots.get('exp_avg')!;
      const m = add(mul(mSlot, s(this.beta1)), mul(u, s(1 - this.beta1)));
      mSlot.assign(m);
      u = m;
    }
    const base = this.weightDecay ? mul(param, s(1 - this.weightDecay)) : param;
    param.assign(sub(base, u));
  }
}
