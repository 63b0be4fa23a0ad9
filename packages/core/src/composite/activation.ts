/**
 * Composite activation backward, from primitives: `dy · f'(x)` with `relu'(x) = [x > 0]` and, for the
 * exact (erf) GELU, `gelu'(x) = Φ(x) + x·φ(x)`, `Φ(x) = ½(1 + erf(x/√2))`, `φ(x) = exp(−x²/2)/√(2π)`.
 *
 * @module
 */
import type { ActivationOp, Backend, KernelTensor } from '../backend.js';
import { kernelScope } from './scope.js';

type KT = KernelTensor;

/** `dy · f'(x)` for `op`. */
export function activationBackwardComposite(backend: Backend, op: ActivationOp, x: KT, dy: KT): KT {
  return kernelScope(backend, [x, dy], (k) => {
    if (op === 'relu') return k.where(k.binary('greater', x, k.scalar(0)), dy, k.scalar(0));
    const cdf = k.binary('mul', k.scalar(0.5), k.binary('add', k.scalar(1), k.unary('erf', k.binary('mul', x, k.scalar(Math.SQRT1_2)))));
    const pdf = k.binary(
      'mul',
      k.unary('exp', k.binary('mul', k.unary('square', x), k.scalar(-0.5))),
      k.scalar(1 / Math.sqrt(2 * Math.PI)),
    );
    return k.binary('mul', dy, k.binary('add', cdf, k.binary('mul', x, pdf)));
  });
}
