/**
 * Softmax and logsumexp over the last axis, max-shifted, in doubles.
 *
 * A row whose every entry is −Infinity (a fully masked row) has logsumexp −Infinity and softmax all
 * zeros — a deterministic, NaN-free choice (NumPy would give NaN). A row holding +Infinity has
 * logsumexp +Infinity; NaN propagates.
 */
import type { Shape } from '../types.js';
import { product } from './strided.js';

/** `max + log Σ exp(x − max)` of `x[base .. base + n)`, in doubles (−Infinity for an empty row). */
export function rowLogSumExp(x: Float32Array, base: number, n: number): number {
  let max = -Infinity;
  for (let i = base; i < base + n; i++) max = Math.max(max, x[i]!);
  if (max === -Infinity || max === Infinity || max !== max) return max;
  let sum = 0;
  for (let i = base; i < base + n; i++) sum += Math.exp(x[i]! - max);
  return max + Math.log(sum);
}

/** Softmax over the last axis of `x` (shape `shape`). */
export function softmax(x: Float32Array, shape: Shape): Float32Array {
  const out = new Float32Array(x.length);
  const n = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  if (x.length === 0 || n === 0) return out;
  const rows = x.length / n;
  const e = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    let max = -Infinity;
    for (let i = 0; i < n; i++) max = Math.max(max, x[base + i]!);
    if (max === -Infinity) continue; // fully masked row: zeros
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const v = Math.exp(x[base + i]! - max);
      e[i] = v;
      sum += v;
    }
    for (let i = 0; i < n; i++) out[base + i] = e[i]! / sum;
  }
  return out;
}

/** `log Σ exp` over the last axis (removed from the shape), rounded to float32 once. */
export function logSumExp(x: Float32Array, shape: Shape): Float32Array {
  const n = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  const rows = shape.length === 0 ? 1 : product(shape.slice(0, -1));
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) out[r] = rowLogSumExp(x, r * n, n);
  return out;
}
