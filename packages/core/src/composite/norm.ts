/**
 * Composite layer norm over the last axis and its backward, from primitives, with the fused kernels'
 * formulas: `mean = Σx/D`, `var = Σ(x − mean)²/D` (biased, two-pass), `rstd = 1/√(var + eps)`,
 * `y = (x − mean)·rstd·gamma + beta`; backward with `xhat = (x − mean)·rstd` and `g = dy·gamma`:
 * `dx = rstd·(g − mean(g) − xhat·mean(g·xhat))`, `dGamma = Σ_rows dy·xhat`, `dBeta = Σ_rows dy`.
 *
 * @module
 */
import type { Backend, KernelTensor } from '../backend.js';
import { kernelScope, reshape, type Kernels } from './scope.js';

type KT = KernelTensor;

/** `x` as `[rows, D]`. */
function rows(x: KT): { x2: KT; D: number; R: number } {
  const D = x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1]!;
  const size = x.shape.reduce((a, b) => a * b, 1);
  const R = D === 0 ? 0 : size / D;
  return { x2: reshape(x, [R, D]), D, R };
}

/** Mean over the last axis, kept `[rows, 1]`. */
function rowMean(k: Kernels, x: KT, D: number): KT {
  return k.binary('div', k.reduceLast('sum', x), k.scalar(D));
}

/** Layer norm: `y` (shape of x), `mean` and `rstd` (`x.shape[:-1]`). */
export function layerNormComposite(backend: Backend, x: KT, gamma: KT, beta: KT, eps: number): { y: KT; mean: KT; rstd: KT } {
  return kernelScope(backend, [x, gamma, beta], (k) => {
    const { x2, D } = rows(x);
    const mean = rowMean(k, x2, D);
    const centred = k.binary('sub', x2, mean);
    const variance = rowMean(k, k.unary('square', centred), D);
    const rstd = k.unary('rsqrt', k.binary('add', variance, k.scalar(eps)));
    const y = k.binary('add', k.binary('mul', k.binary('mul', centred, rstd), gamma), beta);
    const lead = x.shape.slice(0, -1);
    return { y: reshape(y, x.shape), mean: reshape(mean, lead), rstd: reshape(rstd, lead) };
  });
}

/** Gradients of layer norm with respect to x, gamma and beta. */
export function layerNormBackwardComposite(
  backend: Backend,
  dy: KT,
  x: KT,
  gamma: KT,
  mean: KT,
  rstd: KT,
): { dx: KT; dGamma: KT; dBeta: KT } {
  return kernelScope(backend, [dy, x, gamma, mean, rstd], (k) => {
    const { x2, D, R } = rows(x);
    const dy2 = reshape(dy, [R, D]);
    const rs = reshape(rstd, [R, 1]);
    const xhat = k.binary('mul', k.binary('sub', x2, reshape(mean, [R, 1])), rs);
    const g = k.binary('mul', dy2, gamma);
    const meanG = rowMean(k, g, D);
    const meanGX = rowMean(k, k.binary('mul', g, xhat), D);
    const dx = k.binary('mul', rs, k.binary('sub', k.binary('sub', g, meanG), k.binary('mul', xhat, meanGX)));
    const dGamma = k.reduce('sum', k.binary('mul', dy2, xhat), [0]);
    const dBeta = k.reduce('sum', dy2, [0]);
    return { dx: reshape(dx, x.shape), dGamma, dBeta };
  });
}
