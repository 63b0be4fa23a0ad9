import { add, div, mul, sqrt, square, sub } from '../ops/elementwise.js';
import { zerosLike } from '../ops/creation.js';
import { checkNumber } from '../validate.js';
import { Optimizer, s, type LearningRate, type OptimizerParams, type ParamUpdate } from './optimizer.js';

/** Options of {@link Adam} and {@link AdamW}. */
export interface AdamOptions {
  /** Learning rate or schedule (default 1e-3). */
  lr?: LearningRate;
  /** Decay of the first moment (default 0.9). */
  beta1?: number;
  /** Decay of the second moment (default 0.999). */
  beta2?: number;
  /** Added to √v̂ (default 1e-8). */
  eps?: number;
  /** Weight decay: L2 added to the gradient for {@link Adam} (default 0), decoupled for {@link AdamW} (default 0.01). */
  weightDecay?: number;
}

/**
 * Adam (Kingma & Ba 2015), as PyTorch's `torch.optim.Adam`: `g ← g + wd·p` (L2),
 * `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`, `p ← p − lr·m̂/(√v̂ + eps)` with the bias
 * corrections `m̂ = m/(1−β1ᵗ)`, `v̂ = v/(1−β2ᵗ)`. Slots: `exp_avg`, `exp_avg_sq`.
 */
export class Adam extends Optimizer {
  /** First-moment decay. */
  readonly beta1: number;
  /** Second-moment decay. */
  readonly beta2: number;
  /** Denominator epsilon. */
  readonly eps: number;
  /** Weight decay factor. */
  readonly weightDecay: number;

  /** Creates the optimizer and zero moment slots for every parameter. */
  constructor(params: OptimizerParams, options: AdamOptions = {}) {
    super(params, options.lr ?? 1e-3);
    const where = this.constructor.name;
    const { beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = this.defaultWeightDecay() } = options;
    checkNumber(where, 'beta1', beta1, 0, 1, { maxInclusive: false });
    checkNumber(where, 'beta2', beta2, 0, 1, { maxInclusive: false });
    checkNumber(where, 'eps', eps, 0);
    checkNumber(where, 'weightDecay', weightDecay, 0);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
    this.params.forEach((p, i) => {
      this.addSlot(i, 'exp_avg', zerosLike(p));
      this.addSlot(i, 'exp_avg_sq', zerosLike(p));
    });
  }

  /** The weight decay when the option is omitted. @internal */
  protected defaultWeightDecay(): number {
    return 0;
  }

  /** @internal */
  protected update({ param, grad, slots, lr, step }: ParamUpdate): void {
    const { beta1, beta2, eps, weightDecay } = this;
    const decoupled = this.isDecoupled();
    const g = weightDecay && !decoupled ? add(grad, mul(param, s(weightDecay))) : grad;
    const mSlot = slots.get('exp_avg')!;
    const vSlot = slots.get('exp_avg_sq')!;
    const m = add(mul(mSlot, s(beta1)), mul(g, s(1 - beta1)));
    const v = add(mul(vSlot, s(beta2)), mul(square(g), s(1 - beta2)));
    mSlot.assign(m);
    vSlot.assign(v);
    const stepSize = lr / (1 - beta1 ** step);
    const denom = add(div(sqrt(v), s(Math.sqrt(1 - beta2 ** step))), s(eps));
    const base = weightDecay && decoupled ? mul(param, s(1 - lr * weightDecay)) : param;
    param.assign(sub(base, mul(div(m, denom), s(stepSize))));
  }

  /** True for AdamW: decay applied to the weights (`p ← p·(1 − lr·wd)`), not the gradient. @internal */
  protected isDecoupled(): boolean {
    return false;
  }
}

/**
 * AdamW (Loshchilov & Hutter 2019), as PyTorch's `torch.optim.AdamW`: Adam without L2 in the
 * gradient, and decoupled weight decay `p ← p·(1 − lr·wd)` before the Adam step (default wd 0.01).
 */
export class AdamW extends Adam {
  /** Creates the optimizer (weight decay 0.01 by default). */
  constructor(params: OptimizerParams, options: AdamOptions = {}) {
    super(params, options);
  }

  /** @internal */
  protected override defaultWeightDecay(): number {
    return 0.01;
  }

  /** @internal */
  protected override isDecoupled(): boolean {
    return true;
  }
}
