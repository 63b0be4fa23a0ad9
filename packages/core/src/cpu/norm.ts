/**
 * Layer norm over the last axis and its backward, one row at a time, in doubles.
 *
 * Forward: `mean = Σx/D`, `var = Σ(x − mean)²/D` (biased, two-pass), `rstd = 1/√(var + eps)`,
 * `y = (x − mean)·rstd·gamma + beta`; `mean` and `rstd` are returned (float32) for the backward.
 *
 * Backward, with `xhat = (x − mean)·rstd` from the saved statistics and `g = dy·gamma`:
 * `dx = rstd·(g − mean(g) − xhat·mean(g·xhat))`, `dGamma = Σ_rows dy·xhat`, `dBeta = Σ_rows dy`.
 */
import type { Shape } from '../types.js';

/** Layer norm of the rows of `x` (last axis of `shape`). */
export function layerNorm(
  x: Float32Array,
  shape: Shape,
  gamma: Float32Array,
  beta: Float32Array,
  eps: number,
): { y: Float32Array; mean: Float32Array; rstd: Float32Array } {
  const D = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  const rows = D === 0 ? 0 : x.length / D;
  const y = new Float32Array(x.length);
  const meanOut = new Float32Array(rows);
  const rstdOut = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * D;
    let sum = 0;
    for (let i = 0; i < D; i++) sum += x[base + i]!;
    const mean = sum / D;
    let sq = 0;
    for (let i = 0; i < D; i++) {
      const c = x[base + i]! - mean;
      sq += c * c;
    }
    const rstd = 1 / Math.sqrt(sq / D + eps);
    for (let i = 0; i < D; i++) y[base + i] = (x[base + i]! - mean) * rstd * gamma[i]! + beta[i]!;
    meanOut[r] = mean;
    rstdOut[r] = rstd;
  }
  return { y, mean: meanOut, rstd: rstdOut };
}

/** Gradients of {@link layerNorm} with respect to x, gamma and beta. */
export function layerNormBackward(
  dy: Float32Array,
  x: Float32Array,
  shape: Shape,
  gamma: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
): { dx: Float32Array; dGamma: Float32Array; dBeta: Float32Array } {
  const D = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  const rows = D === 0 ? 0 : x.length / D;
  const dx = new Float32Array(x.length);
  const dGamma = new Float64Array(D);
  const dBeta = new Float64Array(D);
  const xhat = new Float64Array(D);
  const g = new Float64Array(D);
  for (let r = 0; r < rows; r++) {
    const base = r * D;
    const mu = mean[r]!;
    const rs = rstd[r]!;
    let sumG = 0;
    let sumGX = 0;
    for (let i = 0; i < D; i++) {
      const xh = (x[base + i]! - mu) * rs;
      const d = dy[base + i]!;
      const gi = d * gamma[i]!;
      xhat[i] = xh;
      g[i] = gi;
      sumG += gi;
      sumGX += gi * xh;
      dGamma[i] = dGamma[i]! + d * xh;
      dBeta[i] = dBeta[i]! + d;
    }
    const meanG = sumG / D;
    const meanGX = sumGX / D;
    for (let i = 0; i < D; i++) dx[base + i] = rs * (g[i]! - meanG - xhat[i]! * meanGX);
  }
  return { dx, dGamma: Float32Array.from(dGamma), dBeta: Float32Array.from(dBeta) };
}
