/**
 * Composite softmax and logsumexp over the last axis, from primitives, with the fused kernels' rules:
 * max-shifted; a row of only −Infinity has logsumexp −Infinity and softmax zeros (no NaN); a row
 * holding +Infinity has logsumexp +Infinity; NaN propagates.
 *
 * @module
 */
import type { Backend, KernelTensor } from '../backend.js';
import { kernelScope, reshape, type Kernels } from './scope.js';

type KT = KernelTensor;

/** `x` seen as `[rows, n]` (a rank-0 tensor is one row of one). */
function rows(x: KT): KT {
  const n = x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1]!;
  const size = x.shape.reduce((a, b) => a * b, 1);
  return reshape(x, [n === 0 ? 0 : size / n, n]);
}

/**
 * The row maximum `[rows, 1]` where it is finite, else 0: subtracting it never makes `∞ − ∞` (a row
 * of −Infinity keeps its −Infinity entries, so its exponentials are 0).
 */
function safeMax(k: Kernels, x: KT): KT {
  const m = k.reduceLast('max', x);
  const infinite = k.binary('equal', k.unary('abs', m), k.scalar(Infinity));
  return k.where(infinite, k.scalar(0), m);
}

/** `log Σ exp(x)` of `[rows, n]` rows → `[rows, 1]`. @internal */
export function rowLogSumExp(k: Kernels, x: KT): KT {
  const m = safeMax(k, x);
  const sum = k.reduceLast('sum', k.unary('exp', k.binary('sub', x, m)));
  return k.binary('add', m, k.unary('log', sum));
}

/** Softmax over the last axis. */
export function softmaxComposite(backend: Backend, x: KT): KT {
  return kernelScope(backend, [x], (k) => {
    const x2 = rows(x);
    const e = k.unary('exp', k.binary('sub', x2, safeMax(k, x2)));
    const sum = k.reduceLast('sum', e);
    const p = k.where(k.binary('equal', sum, k.scalar(0)), k.scalar(0), k.binary('div', e, sum));
    return reshape(p, x.shape);
  });
}

/** `log Σ exp` over the last axis (removed from the shape). */
export function logSumExpComposite(backend: Backend, x: KT): KT {
  return kernelScope(backend, [x], (k) => reshape(rowLogSumExp(k, rows(x)), x.shape.slice(0, -1)));
}
