/**
 * Data movement on the host, for the tfjs backends that keep tensors in host memory (cpu, wasm):
 * broadcast, slice, concat, gather and scatter-add as typed-array copies of contiguous runs (their
 * tfjs kernels compute an index per element: docs/results/backend-tfjs.md has the costs), and the
 * conversion of a tfjs read to the contract's typed array.
 */
import { sizeOf, type DType, type Shape, type TypedArray } from '@reformer/core';

/** The row-major host values of a float32 or int32 tensor. */
export type HostArray = Float32Array | Int32Array;

/**
 * `dst[to … to + n) = src[from … from + n)`: short runs by a loop (a `subarray` view per run costs
 * about a microsecond in V8, more than copying 64 floats), long ones by `set`.
 */
function copyRun(dst: HostArray, to: number, src: HostArray, from: number, n: number): void {
  if (n >= 256) dst.set(src.subarray(from, from + n), to);
  else for (let t = 0; t < n; t++) dst[to + t] = src[from + t]!;
}

/** `src` of shape `from` broadcast (numpy rules, right-aligned) to `shape`, into `out`. */
export function broadcastHost(src: HostArray, from: readonly number[], shape: Shape, out: HostArray): void {
  const rank = shape.length;
  if (rank === 0) {
    out[0] = src[0]!;
    return;
  }
  const strides = new Array<number>(rank).fill(0);
  for (let i = rank - 1, acc = 1; i >= 0; i--) {
    const si = i - (rank - from.length);
    const dim = si >= 0 ? from[si]! : 1;
    strides[i] = dim === 1 ? 0 : acc;
    acc *= dim;
  }
  const run = shape[rank - 1]!;
  const rowsN = sizeOf(shape) / run;
  const idx = new Array<number>(rank).fill(0);
  const sLast = strides[rank - 1]!;
  for (let r = 0, to = 0; r < rowsN; r++, to += run) {
    let at = 0;
    for (let i = 0; i < rank - 1; i++) at += idx[i]! * strides[i]!;
    if (sLast === 0) out.fill(src[at]!, to, to + run);
    else copyRun(out, to, src, at, run);
    for (let i = rank - 2; i >= 0; i--) {
      if (++idx[i]! < shape[i]!) break;
      idx[i] = 0;
    }
  }
}

/**
 * Slice of `src` (shape `shape`, dtype `dtype`) as a host copy of contiguous runs (tfjs-wasm's Slice
 * reads the WHOLE source into JS on every call and, above rank 4, indexes every element; measured
 * costs: docs/results/backend-tfjs.md, the tfjs-wasm kernel table).
 */
export function hostSlice(src: HostArray, shape: Shape, dtype: DType, begin: readonly number[], size: readonly number[]): HostArray {
  const rank = shape.length;
  const out = dtype === 'int32' ? new Int32Array(sizeOf(size)) : new Float32Array(sizeOf(size));
  if (rank === 0) {
    out[0] = src[0]!;
  } else {
    const strides = new Array<number>(rank);
    strides[rank - 1] = 1;
    for (let i = rank - 2; i >= 0; i--) strides[i] = strides[i + 1]! * shape[i + 1]!;
    const run = size[rank - 1]!;
    const idx = new Array<number>(rank - 1).fill(0);
    const rows = sizeOf(size) / run;
    for (let r = 0, to = 0; r < rows; r++, to += run) {
      let from = begin[rank - 1]!;
      for (let i = 0; i < rank - 1; i++) from += (begin[i]! + idx[i]!) * strides[i]!;
      copyRun(out, to, src, from, run);
      for (let i = rank - 2; i >= 0; i--) {
        if (++idx[i]! < size[i]!) break;
        idx[i] = 0;
      }
    }
  }
  return out;
}

/**
 * Concatenation of `xs` along `axis` into the result `shape` as host block copies: outer × (each
 * part's axis·inner run, in order). `read` gives a part's host values; parts with no elements are not read.
 */
export function hostConcat<X extends { readonly shape: Shape }>(
  xs: readonly X[],
  axis: number,
  shape: Shape,
  dtype: DType,
  read: (x: X) => HostArray,
): HostArray {
  const outer = sizeOf(shape.slice(0, axis));
  const inner = sizeOf(shape.slice(axis + 1));
  const out = dtype === 'int32' ? new Int32Array(sizeOf(shape)) : new Float32Array(sizeOf(shape));
  const row = shape[axis]! * inner;
  let offset = 0;
  for (const x of xs) {
    const run = x.shape[axis]! * inner;
    if (run > 0) {
      const src = read(x);
      for (let o = 0; o < outer; o++) copyRun(out, o * row + offset, src, o * run, run);
    }
    offset += run;
  }
  return out;
}

/** Gather on the host: `src` `[outer, A, inner]`, `idx` int32 `[outer, n]` → `[outer, n, inner]`. */
export function hostGather(src: HostArray, idx: Int32Array, dtype: DType, outer: number, A: number, n: number, inner: number): HostArray {
  const out = dtype === 'int32' ? new Int32Array(outer * n * inner) : new Float32Array(outer * n * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) {
      const from = (o * A + idx[o * n + j]!) * inner;
      const to = (o * n + j) * inner;
      if (inner === 1) out[to] = src[from]!;
      else copyRun(out, to, src, from, inner);
    }
  }
  return out;
}

/** Whether no target row `(o, idx[o·n + j])` occurs more than twice. */
function atMostTwice(idx: Int32Array, outer: number, n: number, size: number): boolean {
  const seen = new Uint8Array(size);
  for (let o = 0; o < outer; o++) {
    if (o > 0) seen.fill(0);
    for (let j = 0; j < n; j++) {
      const i = idx[o * n + j]!;
      if (++seen[i]! > 2) return false;
    }
  }
  return true;
}

/** `out[(o·size + idx[o·n + j])·inner + t] += src[(o·n + j)·inner + t]` (one monomorphic loop per dtype). */
function scatterAddF(
  out: Float64Array | Float32Array,
  src: Float32Array,
  idx: Int32Array,
  outer: number,
  n: number,
  size: number,
  inner: number,
): void {
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) {
      const to = (o * size + idx[o * n + j]!) * inner;
      const from = (o * n + j) * inner;
      for (let t = 0; t < inner; t++) out[to + t] = out[to + t]! + src[from + t]!;
    }
  }
}

function scatterAddI(out: Int32Array, src: Int32Array, idx: Int32Array, outer: number, n: number, size: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) {
      const to = (o * size + idx[o * n + j]!) * inner;
      const from = (o * n + j) * inner;
      for (let t = 0; t < inner; t++) out[to + t] = (out[to + t]! + src[from + t]!) | 0;
    }
  }
}

/**
 * Scatter-add on the host: updates `[outer, n, inner]` summed into `[outer, size, inner]` at rows
 * `idx` `[outer, n]` (undefined when there is nothing to add: the result is zeros). `read` gives the
 * updates' host values, read only when `idx` is given. int32 sums wrap to 32 bits; float32 sums are
 * taken in float64 and rounded once.
 */
export function hostScatterAdd(
  idx: Int32Array | undefined,
  read: () => HostArray,
  dtype: DType,
  outer: number,
  n: number,
  size: number,
  inner: number,
): HostArray {
  const total = outer * size * inner;
  // float32 targets hit at most twice (a permutation's or two hash rounds' gather gradient) are
  // summed in float32 directly: 0 + a is exact and one float32 addition is correctly rounded, so
  // the result is bit-identical to the float64 sum rounded once.
  const f32 = dtype === 'float32' && idx !== undefined && atMostTwice(idx, outer, n, size);
  const out = dtype === 'int32' ? new Int32Array(total) : f32 ? new Float32Array(total) : new Float64Array(total);
  if (idx !== undefined) {
    const src = read();
    if (out instanceof Int32Array) scatterAddI(out, src as Int32Array, idx, outer, n, size, inner);
    else scatterAddF(out, src as Float32Array, idx, outer, n, size, inner);
  }
  return out instanceof Float64Array ? new Float32Array(out) : out;
}

/** The first `size` values of a tfjs read as the contract's typed array of `dtype` (int32 truncates). */
export function convert(data: ArrayLike<number> | Uint8Array | string[] | unknown, dtype: DType, size: number): TypedArray {
  const src = data as ArrayLike<number>;
  const n = Math.min(size, src.length);
  if (dtype === 'int32') {
    if (src instanceof Int32Array) return src.slice(0, n);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.trunc(src[i]!);
    return out;
  }
  if (src instanceof Float32Array) return src.slice(0, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = src[i]!;
  return out;
}
