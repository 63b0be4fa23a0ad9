/**
 * Reductions: `sum`/`max`/`min` over a set of axes, and `argMax` along one axis.
 *
 * A reduction is the adjoint of a broadcast: the input is walked in memory order and every element is
 * combined into the output slot whose strides are 0 on the reduced axes. {@link planRows} merges axes, so
 * reducing trailing axes becomes one contiguous row per output value and reducing leading axes becomes
 * vector accumulation into the whole output, and any other pattern is a mix of the two. Accumulators
 * are doubles; max/min over an empty axis give −Infinity/+Infinity and sum gives 0. NaN propagates
 * through max and min.
 */
import type { ReduceOp } from '../backend.js';
import type { DType, Shape } from '../types.js';
import type { CpuStorage } from './storage.js';
import { contiguousStrides, planRows, product } from './strided.js';

/** The shape left after removing `axes`. */
export function reducedShape(shape: Shape, axes: readonly number[]): number[] {
  return shape.filter((_, i) => !axes.includes(i));
}

/** Reduces `x` over `axes` (sorted, distinct); the reduced axes are removed. Result has `dtype`. */
export function reduce(op: ReduceOp, x: CpuStorage, shape: Shape, axes: readonly number[], dtype: DType): CpuStorage {
  const outShape = reducedShape(shape, axes);
  const outSize = product(outShape);
  const init = op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity;
  const acc = new Float64Array(outSize).fill(init);

  // Output strides laid onto the input's axes: 0 on reduced axes.
  const outOwn = contiguousStrides(outShape);
  const outStrides: number[] = [];
  let k = 0;
  for (let i = 0; i < shape.length; i++) outStrides.push(axes.includes(i) ? 0 : outOwn[k++]!);

  const plan = planRows(shape, [contiguousStrides(shape), outStrides]);
  const [inOffs, outOffs] = plan.offsets as [Int32Array, Int32Array];
  const outStep = plan.step[1]!;
  const n = plan.rowLength;
  for (let r = 0; r < plan.rowCount; r++) {
    const xi = inOffs[r]!;
    const oi = outOffs[r]!;
    if (outStep === 0) {
      // The row runs along reduced axes: fold it into one value.
      acc[oi] = combine(op, acc[oi]!, foldRow(op, x, xi, n));
    } else {
      accumulateRow(op, x, xi, acc, oi, n);
    }
  }
  if (dtype === 'int32') {
    const out = new Int32Array(outSize);
    for (let i = 0; i < outSize; i++) out[i] = acc[i]!; // wraps to 32 bits; ±Infinity (empty) → 0
    return out;
  }
  return Float32Array.from(acc);
}

function combine(op: ReduceOp, a: number, b: number): number {
  return op === 'sum' ? a + b : op === 'max' ? Math.max(a, b) : Math.min(a, b);
}

/** Reduces the contiguous run `x[xi .. xi + n)` to one value. */
function foldRow(op: ReduceOp, x: CpuStorage, xi: number, n: number): number {
  const end = xi + n;
  switch (op) {
    case 'sum': {
      let s = 0;
      for (let i = xi; i < end; i++) s += x[i]!;
      return s;
    }
    case 'max': {
      let m = -Infinity;
      for (let i = xi; i < end; i++) m = Math.max(m, x[i]!);
      return m;
    }
    case 'min': {
      let m = Infinity;
      for (let i = xi; i < end; i++) m = Math.min(m, x[i]!);
      return m;
    }
    default:
      throw new Error(`cpu reduce: unknown op '${String(op satisfies never)}'`);
  }
}

/** `acc[oi + i] op= x[xi + i]` for i < n. */
function accumulateRow(op: ReduceOp, x: CpuStorage, xi: number, acc: Float64Array, oi: number, n: number): void {
  switch (op) {
    case 'sum':
      for (let i = 0; i < n; i++) acc[oi + i] = acc[oi + i]! + x[xi + i]!;
      return;
    case 'max':
      for (let i = 0; i < n; i++) acc[oi + i] = Math.max(acc[oi + i]!, x[xi + i]!);
      return;
    case 'min':
      for (let i = 0; i < n; i++) acc[oi + i] = Math.min(acc[oi + i]!, x[xi + i]!);
      return;
    default:
      throw new Error(`cpu reduce: unknown op '${String(op satisfies never)}'`);
  }
}

/**
 * Index of the first maximum along `axis` (removed from the shape), int32. NaN never counts as greater,
 * so NaNs are skipped unless a slice holds nothing else (then the index is 0).
 */
export function argMax(x: CpuStorage, shape: Shape, axis: number): Int32Array {
  const outer = product(shape.slice(0, axis));
  const len = shape[axis]!;
  const inner = product(shape.slice(axis + 1));
  const out = new Int32Array(outer * inner);
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      const base = o * len;
      let best = -Infinity;
      let bestIndex = 0;
      for (let a = 0; a < len; a++) {
        const v = x[base + a]!;
        if (v > best) {
          best = v;
          bestIndex = a;
        }
      }
      out[o] = bestIndex;
    }
    return out;
  }
  // Inner axes present: sweep the reduced axis outermost so reads stay contiguous.
  const best = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    best.fill(-Infinity);
    const outBase = o * inner;
    for (let a = 0; a < len; a++) {
      const base = (o * len + a) * inner;
      for (let j = 0; j < inner; j++) {
        const v = x[base + j]!;
        if (v > best[j]!) {
          best[j] = v;
          out[outBase + j] = a;
        }
      }
    }
  }
  return out;
}
