import { add, mul, sub } from '../ops/elementwise.js';
import { zerosLike } from '../ops/creation.js';
import { InvalidArgumentError } from '../errors.js';
import { checkNumber } from '../validate.js';
import { Optimizer, s, type LearningRate, type OptimizerParams, type ParamUpdate } from './optimizer.js';

/** Options of {@link SGD}. */
export interface SGDOptions {
  /** Learning rate or schedule. */
  lr: LearningRate;
  /** Momentum factor μ (default 0: plain SGD). */
  momentum?: number;
  /** L2 penalty added to the gradient: g ← g + wd·p (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false; needs momentum > 0). */
  nesterov?: boolean;
}

/**
 * Stochastic gradient descent with optional momentum, as PyTorch's `torch.optim.SGD` (no dampening):
 * `g ← g + wd·p`; with momentum `b ← μ·b + g` (b starts at 0, so b₁ = g₁) and `g ← b`, or
 * `g ← g + μ·b` with Nesterov; then `p ← p − lr·g`. Slot: `momentum_buffer` (when μ > 0).
 */
export class SGD extends Optimizer {
  /** Momentum factor. */
  readonly momentum: number;
  /** L2 penalty. */
  readonly weightDecay: number;
  /** Nesterov momentum. */
  readonly nesterov: boolean;

  /** Creates the optimizer (and a zero momentum buffer per parameter when momentum > 0). */
  constructor(params: OptimizerParams, options: SGDOptions) {
    super(params, options.lr);
    const { momentum = 0, weightDecay = 0, nesterov = false } = options;
    checkNumber('SGD', 'momentum', momentum, 0);
    checkNumber('SGD', 'weightDecay', weightDecay, 0);
    if (nesterov && momentum === 0) throw new InvalidArgumentError('SGD: nesterov needs momentum > 0.');
    this.momentum = momentum;
    this.weightDecay = weightDecay;
    this.nesterov = nesterov;
    if (momentum > 0) this.params.forEach((p, i) => this.addSlot(i, 'momentum_buffer', zerosLike(p)));
  }

  /** @internal */
  protected update({ param, grad, slots, lr }: ParamUpdate): void {
    let d = this.weightDecay ? add(grad, mul(param, s(this.weightDecay))) : grad;
    if (this.momentum > 0) {
      const slot = slots.get('momentum_buffer')!;
      const buf = add(mul(slot, s(this.momentum)), d);
      slot.assign(buf);
      d = this.nesterov ? add(d, mul(buf, s(this.momentum))) : buf;
    }
    param.assign(sub(param, mul(d, s(lr))));
  }
}
