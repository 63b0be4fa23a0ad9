import { expect } from 'vitest';
import { add, mul, scalar, tensor, tidy, type Tensor } from '@reformer/core';

/** Deterministic host values in [-scale, scale) (an LCG, independent of core's RNG). */
export function hostRandom(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

/** A float32 tensor of deterministic values. */
export function rand(shape: number[], seed: number, scale = 1): Tensor {
  return tensor(
    hostRandom(
      shape.reduce((a, b) => a * b, 1),
      seed,
      scale,
    ),
    shape,
  );
}

/** Int labels in [0, v), with every `ignoreEvery`-th one set to -100 (0: none). */
export function labelsOf(shape: number[], v: number, seed: number, ignoreEvery = 0): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const u = hostRandom(n, seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++)
    out[i] = ignoreEvery > 0 && i % ignoreEvery === ignoreEvery - 1 ? -100 : Math.floor(((u[i]! + 1) / 2) * v) % v;
  return tensor(out, shape, 'int32');
}

/**
 * The derivative of `objective` at `x` along `dir` two ways: by central finite differences (step
 * 1e-2) and from the gradient `grad` (its dot product with `dir`).
 */
export function directionalDerivatives(
  objective: (t: Tensor) => number,
  x: Tensor,
  dir: Tensor,
  grad: Tensor,
): { fd: number; analytic: number } {
  const eps = 1e-2;
  const at = (e: number): number => tidy(() => objective(add(x, mul(dir, scalar(e)))));
  const fd = (at(eps) - at(-eps)) / (2 * eps);
  let analytic = 0;
  const g = grad.dataSync();
  const d = dir.dataSync();
  for (let i = 0; i < g.length; i++) analytic += g[i]! * d[i]!;
  return { fd, analytic };
}

/** Expects two tensors to have the same shape and values within `atol + rtol·|b|`. */
export function expectClose(a: Tensor, b: Tensor | ArrayLike<number>, tol: { atol?: number; rtol?: number } = {}, what = ''): void {
  const { atol = 1e-5, rtol = 1e-5 } = tol;
  const av = a.dataSync();
  const bv = 'dataSync' in b ? (b as Tensor).dataSync() : b;
  if ('shape' in b) expect(a.shape, `${what} shape`).toEqual((b as Tensor).shape);
  expect(av.length, `${what} size`).toBe(bv.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < av.length; i++) {
    const excess = Math.abs(av[i]! - bv[i]!) - (atol + rtol * Math.abs(bv[i]!));
    if (!(excess <= worst)) {
      worst = Number.isNaN(excess) ? Infinity : excess;
      at = i;
    }
  }
  expect(worst, `${what}: element ${at}: ${av[at]} vs ${bv[at]}`).toBeLessThanOrEqual(0);
}

/** The largest absolute value of a tensor. */
export function maxAbs(t: Tensor): number {
  let m = 0;
  for (const x of t.dataSync()) m = Math.max(m, Math.abs(x));
  return m;
}
