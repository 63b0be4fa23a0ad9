/**
 * Arithmetic kernels on the host, for the tfjs backends that keep tensors in host memory (cpu, wasm),
 * with the CPU reference's semantics: int32 binary ops, reductions over non-trailing axes, argmax and
 * a stable argsort (counting sort for narrow int32 rows).
 */
import { sizeOf, type BinaryOp, type DType, type ReduceOp, type Shape } from '@reformer/core';
import type { HostArray } from './host-copy.js';

/** The int32 semantics of one binary op (the CPU reference's: wrap to 32 bits, x / 0 and x mod 0 give 0). */
function intOp(op: BinaryOp): (x: number, y: number) => number {
  switch (op) {
    case 'add':
      return (x, y) => (x + y) | 0;
    case 'sub':
      return (x, y) => (x - y) | 0;
    case 'mul':
      return (x, y) => Math.imul(x, y);
    case 'div':
    case 'floorDiv':
      return (x, y) => Math.floor(x / y) | 0;
    case 'mod':
      return (x, y) => {
        const r = y === 0 ? 0 : x % y;
        return r !== 0 && r < 0 !== y < 0 ? r + y : r;
      };
    case 'pow':
      return (x, y) => Math.trunc(Math.pow(x, y)) | 0;
    case 'maximum':
      return (x, y) => Math.max(x, y);
    case 'minimum':
      return (x, y) => Math.min(x, y);
    case 'equal':
      return (x, y) => (x === y ? 1 : 0);
    case 'notEqual':
      return (x, y) => (x !== y ? 1 : 0);
    case 'less':
      return (x, y) => (x < y ? 1 : 0);
    case 'lessEqual':
      return (x, y) => (x <= y ? 1 : 0);
    case 'greater':
      return (x, y) => (x > y ? 1 : 0);
    case 'greaterEqual':
      return (x, y) => (x >= y ? 1 : 0);
    default:
      throw new Error(`tfjs binary: unknown op '${String(op satisfies never)}'`);
  }
}

/** Strides of `shape` read as broadcast to rank `rank` (0 on broadcast axes, right-aligned). */
function broadcastStrides(shape: Shape, rank: number): number[] {
  const st = new Array<number>(rank).fill(0);
  let acc = 1;
  for (let i = shape.length - 1, j = rank - 1; i >= 0; i--, j--) {
    st[j] = shape[i] === 1 ? 0 : acc;
    acc *= shape[i]!;
  }
  return st;
}

/**
 * int32 arithmetic and comparisons on the host: tfjs-wasm's int32 kernels are generic per-element
 * paths (measured costs: docs/results/backend-tfjs.md, the tfjs-wasm kernel table), and floor
 * division / Python modulo would take a dozen of them. `x` of shape `aShape` and `y` of `bShape` broadcast to `outShape`. Results
 * wrap to 32 bits; division or modulo by 0 gives 0.
 */
export function hostIntBinary(op: BinaryOp, x: Int32Array, aShape: Shape, y: Int32Array, bShape: Shape, outShape: Shape): Int32Array {
  const rank = outShape.length;
  const sa = broadcastStrides(aShape, rank);
  const sb = broadcastStrides(bShape, rank);
  const f = intOp(op);
  const n = sizeOf(outShape);
  const out = new Int32Array(n);
  const idx = new Array<number>(rank).fill(0);
  let ia = 0;
  let ib = 0;
  for (let o = 0; o < n; o++) {
    out[o] = f(x[ia]!, y[ib]!);
    for (let d = rank - 1; d >= 0; d--) {
      ia += sa[d]!;
      ib += sb[d]!;
      if (++idx[d]! < outShape[d]!) break;
      ia -= sa[d]! * outShape[d]!;
      ib -= sb[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * Reduction of `x` (shape `shape`, dtype `dtype`) over one contiguous block of non-trailing axes on
 * the host, with the reference's semantics: float64 accumulators, NaN propagates through max/min.
 * (tfjs reduces only the last axis natively and transposes first otherwise — a per-element Transpose
 * on wasm.) Returns undefined for non-contiguous or trailing axes. `read` gives the host values of
 * `x`, read only when there is something to reduce.
 */
export function hostReduce(
  op: ReduceOp,
  shape: Shape,
  dtype: DType,
  axes: readonly number[],
  read: () => HostArray,
): HostArray | undefined {
  const ax = [...axes].sort((p, q) => p - q);
  for (let i = 1; i < ax.length; i++) if (ax[i] !== ax[i - 1]! + 1) return undefined;
  const outer = sizeOf(shape.slice(0, ax[0]!));
  const R = sizeOf(shape.slice(ax[0]!, ax[ax.length - 1]! + 1));
  const inner = sizeOf(shape.slice(ax[ax.length - 1]! + 1));
  if (inner === 1) return undefined; // trailing axes: tfjs reduces those natively, without a transpose
  const acc = new Float64Array(outer * inner).fill(op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity);
  if (R > 0) {
    const src = read();
    for (let o = 0; o < outer; o++) {
      const base = o * inner;
      for (let r = 0; r < R; r++) {
        const from = (o * R + r) * inner;
        if (op === 'sum') {
          for (let i = 0; i < inner; i++) acc[base + i] = acc[base + i]! + src[from + i]!;
        } else if (op === 'max') {
          for (let i = 0; i < inner; i++) {
            const v = src[from + i]!;
            const m = acc[base + i]!;
            if (v > m || (v !== v && m === m)) acc[base + i] = v;
          }
        } else {
          for (let i = 0; i < inner; i++) {
            const v = src[from + i]!;
            const m = acc[base + i]!;
            if (v < m || (v !== v && m === m)) acc[base + i] = v;
          }
        }
      }
    }
  }
  return dtype === 'int32' ? Int32Array.from(acc) : Float32Array.from(acc);
}

/**
 * Argmax of `src` (shape `shape`) along `axis` on the host: the first strict maximum, NaN never wins,
 * index 0 when nothing beats −Infinity (the CPU reference).
 */
export function hostArgMax(src: HostArray, shape: Shape, axis: number): Int32Array {
  const len = shape[axis]!;
  const inner = sizeOf(shape.slice(axis + 1));
  const outer = sizeOf(shape.slice(0, axis));
  const out = new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = -Infinity;
      let at = 0;
      for (let a = 0, k = o * len * inner + i; a < len; a++, k += inner) {
        const v = src[k]!;
        if (v > best) {
          best = v;
          at = a;
        }
      }
      out[o * inner + i] = at;
    }
  }
  return out;
}

/**
 * Stable argsort on the host of the `size` values of `data` in rows of `n` (NaN last), for rows longer
 * than the device composite key allows and for int32 rows.
 */
export function hostArgSort(data: HostArray, size: number, n: number): Int32Array {
  const rows = size / n;
  const out = new Int32Array(size);
  const idx = new Array<number>(n);
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    if (data instanceof Int32Array && countingSort(data, base, n, out)) continue;
    for (let i = 0; i < n; i++) idx[i] = i;
    idx.sort((i, j) => {
      const a = data[base + i]!;
      const b = data[base + j]!;
      const an = a !== a;
      const bn = b !== b;
      if (an || bn) return an === bn ? i - j : an ? 1 : -1;
      return a < b ? -1 : a > b ? 1 : i - j;
    });
    for (let i = 0; i < n; i++) out[base + i] = idx[i]!;
  }
  return out;
}

/**
 * Stable counting sort of one int32 row when its value range is at most 4n (LSH sort keys, inverse
 * permutations): O(n + range). Returns false (nothing written) for a wider range.
 */
function countingSort(data: Int32Array, base: number, n: number, out: Int32Array): boolean {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = data[base + i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const range = hi - lo + 1;
  if (!(range <= 4 * n + 16)) return false;
  const start = new Int32Array(range + 1);
  for (let i = 0; i < n; i++) start[data[base + i]! - lo + 1]!++;
  for (let b = 0; b < range; b++) start[b + 1]! += start[b]!;
  for (let i = 0; i < n; i++) out[base + start[data[base + i]! - lo]!++] = i;
  return true;
}
