/**
 * Host side of the element-wise and indexing kernels: NumPy broadcasting collapsed to rows of a 2-D
 * walk (inner strides 0 or 1), and the axis bookkeeping of gather / scatter-add.
 */
import type { BinaryOp, Shape, UnaryOp } from '@reformer/core';
import type { WasmHeap, WasmStorage } from './heap.js';
import type { WasmKernelExports } from './kernels.js';
import { rowBlocks, SPLIT_MIN_ELEMENTS, splitRange, type KernelRunner } from './pool.js';

/** The float32 ops the binary kernel runs, by its op code. */
export const WASM_BINARY_OPS: ReadonlyMap<BinaryOp, number> = new Map<BinaryOp, number>([
  ['add', 0],
  ['sub', 1],
  ['mul', 2],
  ['div', 3],
  ['maximum', 4],
  ['minimum', 5],
]);

/** The int32 ops the binary kernel runs (exactly as the reference), by its op code. */
export const WASM_INT_BINARY_OPS: ReadonlyMap<BinaryOp, number> = new Map<BinaryOp, number>([
  ['add', 6],
  ['sub', 7],
  ['mul', 8],
  ['maximum', 9],
  ['minimum', 10],
  ['floorDiv', 11],
  ['div', 11],
  ['mod', 12],
]);

/** The float32 unary ops the wasm kernel runs (rounding exactly as the reference), by op code. */
export const WASM_UNARY_OPS: ReadonlyMap<UnaryOp, number> = new Map<UnaryOp, number>([
  ['neg', 0],
  ['abs', 1],
  ['sqrt', 2],
  ['square', 3],
  ['reciprocal', 4],
  ['floor', 5],
  ['ceil', 6],
  ['round', 7],
  ['relu', 8],
]);

/**
 * `[outer, r, inner]` when `axes` (sorted, distinct) are one run of consecutive axes of `shape`, else
 * undefined.
 */
export function reductionBlock(shape: Shape, axes: readonly number[]): [number, number, number] | undefined {
  if (axes.length === 0) return undefined;
  const first = axes[0]!;
  const last = axes[axes.length - 1]!;
  if (last - first + 1 !== axes.length) return undefined;
  return [span(shape, 0, first), span(shape, first, last + 1), span(shape, last + 1, shape.length)];
}

/** Output sizes and element strides of both inputs after dropping size-1 axes and merging runs. */
interface BroadcastWalk {
  sizes: number[];
  aStrides: number[];
  bStrides: number[];
}

/** Strides of `shape` broadcast to `outShape` (0 on broadcast axes), right-aligned. */
function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const rank = outShape.length;
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let i = rank - 1, j = shape.length - 1; i >= 0; i--, j--) {
    const d = j >= 0 ? shape[j]! : 1;
    strides[i] = d === 1 ? 0 : s;
    s *= d;
  }
  return strides;
}

/** Collapses a broadcast to the fewest axes (outer first). */
export function broadcastWalk(aShape: Shape, bShape: Shape, outShape: Shape): BroadcastWalk {
  const as = broadcastStrides(aShape, outShape);
  const bs = broadcastStrides(bShape, outShape);
  const sizes: number[] = [];
  const aStrides: number[] = [];
  const bStrides: number[] = [];
  for (let i = outShape.length - 1; i >= 0; i--) {
    const n = outShape[i]!;
    if (n === 1) continue;
    const last = sizes.length - 1;
    // Merge axis i into the (inner) axis before it when both inputs step through it contiguously.
    if (last >= 0 && as[i] === aStrides[last]! * sizes[last]! && bs[i] === bStrides[last]! * sizes[last]!) {
      sizes[last] = sizes[last]! * n;
      continue;
    }
    sizes.push(n);
    aStrides.push(as[i]!);
    bStrides.push(bs[i]!);
  }
  return { sizes: sizes.reverse(), aStrides: aStrides.reverse(), bStrides: bStrides.reverse() };
}

/**
 * `out = a op b` (float32, or int32 with the int op codes) over a broadcast to `outShape`. With threads, large calls split over rows
 * (or over the columns of a single row, in blocks of four); every element is computed once, as in one call.
 */
export function binaryBroadcast(
  kernels: WasmKernelExports,
  runner: KernelRunner,
  op: number,
  a: WasmStorage,
  aShape: Shape,
  b: WasmStorage,
  bShape: Shape,
  out: WasmStorage,
  outShape: Shape,
): void {
  if (out.length === 0) return;
  const { sizes, aStrides, bStrides } = broadcastWalk(aShape, bShape, outShape);
  const r = sizes.length;
  if (r === 0) {
    kernels.binary2d(op, a.ptr, 0, 0, b.ptr, 0, 0, out.ptr, 1, 1);
    return;
  }
  const d1 = sizes[r - 1]!;
  const as1 = aStrides[r - 1]!;
  const bs1 = bStrides[r - 1]!;
  const d0 = r >= 2 ? sizes[r - 2]! : 1;
  const as0 = r >= 2 ? aStrides[r - 2]! : 0;
  const bs0 = r >= 2 ? bStrides[r - 2]! : 0;
  const outerRank = Math.max(0, r - 2);
  let outer = 1;
  for (let i = 0; i < outerRank; i++) outer *= sizes[i]!;
  const threads = out.length < SPLIT_MIN_ELEMENTS ? 1 : runner.threads;
  const tasks: number[][] = [];
  const rowBlock = threads === 1 ? d0 : Math.max(1, Math.ceil((d0 * outer) / (4 * threads)));
  for (let o = 0; o < outer; o++) {
    let rem = o;
    let ao = 0;
    let bo = 0;
    for (let i = outerRank - 1; i >= 0; i--) {
      const idx = rem % sizes[i]!;
      rem = Math.floor(rem / sizes[i]!);
      ao += idx * aStrides[i]!;
      bo += idx * bStrides[i]!;
    }
    const pa = a.ptr + 4 * ao;
    const pb = b.ptr + 4 * bo;
    const po = out.ptr + 4 * o * d0 * d1;
    if (threads > 1 && d0 * outer < 2 * threads) {
      for (let r = 0; r < d0; r++) {
        for (const [j0, j1] of splitRange(d1, threads)) {
          tasks.push([
            op,
            pa + 4 * (r * as0 + j0 * as1),
            as0,
            as1,
            pb + 4 * (r * bs0 + j0 * bs1),
            bs0,
            bs1,
            po + 4 * (r * d1 + j0),
            1,
            j1 - j0,
          ]);
        }
      }
      continue;
    }
    for (let r0 = 0; r0 < d0; r0 += rowBlock) {
      const rows = Math.min(rowBlock, d0 - r0);
      tasks.push([op, pa + 4 * r0 * as0, as0, as1, pb + 4 * r0 * bs0, bs0, bs1, po + 4 * r0 * d1, rows, d1]);
    }
  }
  if (threads === 1) {
    for (const t of tasks) kernels.binary2d(...(t as Parameters<WasmKernelExports['binary2d']>));
  } else {
    runner.run('binary2d', tasks, 0);
  }
}

/** `out = op(x)` on float32 (`n` elements); with threads, large calls split into blocks of four. */
export function unaryFloat(kernels: WasmKernelExports, runner: KernelRunner, op: number, x: number, out: number, n: number): void {
  const ranges = splitRange(n, runner.threads);
  if (ranges.length === 1) {
    kernels.unaryFloat(op, x, out, n);
    return;
  }
  runner.run(
    'unaryFloat',
    ranges.map(([i0, i1]) => [op, x + 4 * i0, out + 4 * i0, i1 - i0]),
    0,
  );
}

/**
 * `out[p, j, :] = x[p, idx[p, j], :]` (4-byte elements, `inner` per block). With threads, large calls
 * split over blocks of `j` in each `p` (copies: the same bits however split).
 */
export function gatherRows(
  kernels: WasmKernelExports,
  runner: KernelRunner,
  x: number,
  idx: number,
  out: number,
  outer: number,
  size: number,
  n: number,
  inner: number,
): void {
  const threads = outer * n * inner < SPLIT_MIN_ELEMENTS ? 1 : runner.threads;
  if (threads === 1) {
    kernels.gatherBlocks(x, idx, out, outer, size, n, inner);
    return;
  }
  const block = Math.max(1, Math.ceil((outer * n) / (4 * threads)));
  const tasks: number[][] = [];
  for (let p = 0; p < outer; p++) {
    for (let j0 = 0; j0 < n; j0 += block) {
      const j1 = Math.min(n, j0 + block);
      tasks.push([x + 4 * p * size * inner, idx + 4 * (p * n + j0), out + 4 * (p * n + j0) * inner, 1, size, j1 - j0, inner]);
    }
  }
  runner.run('gatherBlocks', tasks, 0);
}

/**
 * Float32 scatter-add of `updates[p, j, :]` into rows `idx[p, j]` of `out` (`outer × size × inner`),
 * summed in doubles in `acc`. With threads, large calls split over blocks of output rows (every thread
 * reads all indices and adds those in its rows in the same order, so the bits are the same).
 */
export function scatterAddRows(
  kernels: WasmKernelExports,
  runner: KernelRunner,
  upd: number,
  idx: number,
  out: number,
  acc: number,
  outer: number,
  n: number,
  size: number,
  inner: number,
): void {
  const threads = outer * n * inner < SPLIT_MIN_ELEMENTS || size < 2 ? 1 : runner.threads;
  if (threads === 1) {
    kernels.scatterAddBlocks(upd, idx, out, acc, outer, n, size, inner);
    return;
  }
  // each task reads all outer·n indices: a few tasks per thread only
  const block = Math.ceil(size / Math.min(size, 2 * threads));
  const tasks: number[][] = [];
  for (let k0 = 0; k0 < size; k0 += block) tasks.push([upd, idx, out, acc, outer, n, size, inner, k0, Math.min(size, k0 + block)]);
  runner.run('scatterAddRowRange', tasks, 0);
}

/**
 * Float32 sums over the middle axis of `[outer, r, inner]` (doubles, the reference's order). With
 * threads, large calls split over blocks of `outer` (each output element summed by one thread).
 */
export function reduceSumRows(
  kernels: WasmKernelExports,
  runner: KernelRunner,
  heap: WasmHeap,
  x: number,
  out: number,
  outer: number,
  r: number,
  inner: number,
): void {
  const threads = outer * r * inner < SPLIT_MIN_ELEMENTS ? 1 : runner.threads;
  if (threads > 1 && outer < 2 * threads && inner >= 64 * threads) {
    // few outer blocks, wide rows: split the columns
    const width = Math.ceil(inner / (4 * threads) / 4) * 4;
    const tasks: number[][] = [];
    for (let c0 = 0; c0 < inner; c0 += width) tasks.push([x, out, outer, r, inner, c0, Math.min(inner, c0 + width)]);
    runner.run('reduceSumColumns', tasks, 8 * width);
    return;
  }
  if (threads === 1 || outer < 2) {
    kernels.reduceSum(x, out, heap.scratch(8 * inner), outer, r, inner);
    return;
  }
  const tasks = rowBlocks(outer, threads).map(([o0, rows]) => [x + 4 * o0 * r * inner, out + 4 * o0 * inner, rows, r, inner]);
  runner.run('reduceSumRange', tasks, 8 * inner);
}

/** Index of the first maximum of float32 `x` `[outer, len, inner]` along `len`; with threads, blocks of `outer`. */
export function argMaxRows(
  kernels: WasmKernelExports,
  runner: KernelRunner,
  heap: WasmHeap,
  x: number,
  out: number,
  outer: number,
  len: number,
  inner: number,
): void {
  const threads = outer * len * inner < SPLIT_MIN_ELEMENTS || outer < 2 ? 1 : runner.threads;
  if (threads === 1) {
    kernels.argMaxFloat(x, out, outer, len, inner, heap.scratch(4 * inner));
    return;
  }
  const tasks = rowBlocks(outer, threads).map(([o0, rows]) => [x + 4 * o0 * len * inner, out + 4 * o0 * inner, rows, len, inner]);
  runner.run('argMaxFloat', tasks, 4 * inner);
}

/** `signedArgMax` of float32 `x` `[rows, len]` (the first maximum of `[x, −x]`); with threads, blocks of rows. */
export function signedArgMaxBlocks(
  kernels: WasmKernelExports,
  runner: KernelRunner,
  x: number,
  out: number,
  rows: number,
  len: number,
): void {
  const threads = rows * len < SPLIT_MIN_ELEMENTS || rows < 2 ? 1 : runner.threads;
  if (threads === 1) {
    kernels.signedArgMaxRows(x, out, rows, len);
    return;
  }
  runner.run(
    'signedArgMaxRows',
    rowBlocks(rows, threads).map(([r0, n]) => [x + 4 * r0 * len, out + 4 * r0, n, len]),
    0,
  );
}

/**
 * Whether every value of the int32 storage lies in `[0, size)` or equals `except` (cross-entropy's
 * `ignoreIndex`). When not, callers let the CPU reference throw its named error.
 */
export function indicesInRange(heap: WasmHeap, indices: WasmStorage, size: number, except?: number): boolean {
  const view = heap.i32(indices.ptr, indices.length);
  for (let i = 0; i < view.length; i++) {
    const v = view[i]!;
    if ((v < 0 || v >= size) && v !== except) return false;
  }
  return true;
}

/** Product of `shape[from..to)`. */
export function span(shape: Shape, from: number, to: number): number {
  let n = 1;
  for (let i = from; i < to; i++) n *= shape[i]!;
  return n;
}
