/**
 * Strided iteration shared by the element-wise, reduction and layout kernels.
 *
 * A loop over an N-d index space touches several arrays (an output and one or more inputs), each
 * through its own strides (0 on a broadcast axis). {@link planRows} first merges axes that are
 * contiguous in every array and drops axes of size 1, then splits the space into rows along the last
 * merged axis: a kernel runs one tight loop per row, with the start offset of each array taken from a
 * precomputed table. Equal shapes and scalar operands collapse to a single row.
 */
import type { Shape } from '../types.js';

/** Row-major strides of a shape. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/**
 * Strides with which an input of `inShape` is read at each index of `outShape` under NumPy
 * broadcasting: axes aligned from the right, stride 0 where the input has size 1 or no axis.
 */
export function broadcastStrides(inShape: Shape, outShape: Shape): number[] {
  const own = contiguousStrides(inShape);
  const offset = outShape.length - inShape.length;
  const strides = new Array<number>(outShape.length).fill(0);
  for (let i = 0; i < inShape.length; i++) {
    strides[i + offset] = inShape[i] === 1 ? 0 : own[i]!;
  }
  return strides;
}

/** Product of the entries of a shape. */
export function product(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** An iteration space split into rows: one tight loop of `rowLength` steps per row. */
export interface RowPlan {
  /** Number of steps of each row (the size of the last merged axis; 1 for a scalar space). */
  readonly rowLength: number;
  /** Number of rows (0 when the space is empty). */
  readonly rowCount: number;
  /** Per array: its stride along a row. */
  readonly step: readonly number[];
  /** Per array: the start offset of every row (relative to the array's base offset). */
  readonly offsets: readonly Int32Array[];
  /** The merged axes (the last one is the row axis); empty for a scalar or empty space. */
  readonly dims: readonly number[];
  /** Per array: its strides along the merged axes. */
  readonly strides: readonly (readonly number[])[];
}

/**
 * Plans a loop over `dims` for several arrays, array k being read or written at
 * `Σ index[i] · strides[k][i]`. Axes of size 1 are dropped and neighbouring axes merged where every
 * array's strides allow, so rows are as long as possible.
 */
export function planRows(dims: readonly number[], strides: readonly (readonly number[])[]): RowPlan {
  const nArrays = strides.length;
  if (dims.some((d) => d === 0)) {
    return {
      rowLength: 0,
      rowCount: 0,
      step: new Array<number>(nArrays).fill(0),
      offsets: strides.map(() => new Int32Array(0)),
      dims: [],
      strides: strides.map(() => []),
    };
  }
  // Drop size-1 axes, then merge axis i into i + 1 when contiguous in every array.
  const mDims: number[] = [];
  const mStrides: number[][] = strides.map(() => []);
  for (let axis = 0; axis < dims.length; axis++) {
    const d = dims[axis]!;
    if (d === 1) continue;
    const last = mDims.length - 1;
    let mergeable = last >= 0;
    for (let k = 0; k < nArrays && mergeable; k++) {
      const s = mStrides[k]!;
      if (s[last]! !== strides[k]![axis]! * d) mergeable = false;
    }
    if (mergeable) {
      mDims[last] = mDims[last]! * d;
      for (let k = 0; k < nArrays; k++) mStrides[k]![last] = strides[k]![axis]!;
    } else {
      mDims.push(d);
      for (let k = 0; k < nArrays; k++) mStrides[k]!.push(strides[k]![axis]!);
    }
  }
  if (mDims.length === 0) {
    return {
      rowLength: 1,
      rowCount: 1,
      step: new Array<number>(nArrays).fill(0),
      offsets: strides.map(() => new Int32Array(1)),
      dims: [],
      strides: strides.map(() => []),
    };
  }
  const rank = mDims.length;
  const rowLength = mDims[rank - 1]!;
  const step = mStrides.map((s) => s[rank - 1]!);
  const outerDims = mDims.slice(0, rank - 1);
  const outerStrides = mStrides.map((s) => s.slice(0, rank - 1));
  return {
    rowLength,
    rowCount: product(outerDims),
    step,
    offsets: outerOffsets(outerDims, outerStrides),
    dims: mDims,
    strides: mStrides,
  };
}

/**
 * The offset `Σ index[i] · strides[k][i]` of every index of `dims` in row-major order, for each stride
 * set k.
 */
export function outerOffsets(dims: readonly number[], strides: readonly (readonly number[])[]): Int32Array[] {
  const count = product(dims);
  const nArrays = strides.length;
  const rank = dims.length;
  const out = strides.map(() => new Int32Array(count));
  if (count === 0) return out;
  const index = new Int32Array(rank);
  const current = new Float64Array(nArrays);
  for (let r = 0; r < count; r++) {
    for (let k = 0; k < nArrays; k++) out[k]![r] = current[k]!;
    // Increment the multi-index, updating the offsets incrementally.
    for (let axis = rank - 1; axis >= 0; axis--) {
      const d = dims[axis]!;
      index[axis] = index[axis]! + 1;
      if (index[axis]! < d) {
        for (let k = 0; k < nArrays; k++) current[k] = current[k]! + strides[k]![axis]!;
        break;
      }
      index[axis] = 0;
      for (let k = 0; k < nArrays; k++) current[k] = current[k]! - strides[k]![axis]! * (d - 1);
    }
  }
  return out;
}

/**
 * Copies `n` values from `src[srcOff + i·srcStep]` to `dst[dstOff + i]`. Contiguous runs use
 * `TypedArray.set` when long enough to beat a plain loop.
 */
export function copyRun(
  src: Float32Array | Int32Array,
  srcOff: number,
  srcStep: number,
  dst: Float32Array | Int32Array,
  dstOff: number,
  n: number,
): void {
  if (srcStep === 1) {
    if (n >= 64) {
      dst.set(src.subarray(srcOff, srcOff + n), dstOff);
    } else {
      for (let i = 0; i < n; i++) dst[dstOff + i] = src[srcOff + i]!;
    }
    return;
  }
  let s = srcOff;
  for (let i = 0; i < n; i++) {
    dst[dstOff + i] = src[s]!;
    s += srcStep;
  }
}
