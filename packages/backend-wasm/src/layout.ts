/**
 * Host side of the layout kernels: transpose, slice, concat and pad are each a strided copy of a box
 * (`assembly/layout.ts`), with axes that are contiguous in both source and destination merged first.
 */
import type { DType, Shape } from '@reformer/core';
import type { WasmHeap } from './heap.js';
import type { WasmKernelExports } from './kernels.js';
import { rowBlocks, type KernelRunner } from './pool.js';

/** Row-major strides of a shape, in elements. */
export function contiguous(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** The box as (size, source stride, destination stride) triples, size-1 axes dropped, runs merged. */
export function mergeBox(sizes: Shape, srcStrides: readonly number[], dstStrides: readonly number[]): number[] {
  const triples: number[] = []; // innermost first while building
  for (let i = sizes.length - 1; i >= 0; i--) {
    const n = sizes[i]!;
    if (n === 1) continue;
    const k = triples.length - 3;
    if (k >= 0 && srcStrides[i] === triples[k + 1]! * triples[k]! && dstStrides[i] === triples[k + 2]! * triples[k]!) {
      triples[k] = triples[k]! * n;
      continue;
    }
    triples.push(n, srcStrides[i]!, dstStrides[i]!);
  }
  const out: number[] = [];
  for (let k = triples.length - 3; k >= 0; k -= 3) out.push(triples[k]!, triples[k + 1]!, triples[k + 2]!);
  return out;
}

/** Below this many elements a copy runs on the calling thread alone. */
const SPLIT_MIN_COPY = 1 << 16;

/**
 * Copies a box of 4-byte elements from byte offset `src` to byte offset `dst`. With threads, large
 * boxes split over blocks of their outermost axis (copies: the same bits however split).
 */
export function copyBox(
  kernels: WasmKernelExports,
  runner: KernelRunner,
  heap: WasmHeap,
  src: number,
  dst: number,
  sizes: Shape,
  srcStrides: readonly number[],
  dstStrides: readonly number[],
): void {
  if (sizes.some((n) => n === 0)) return;
  const triples = mergeBox(sizes, srcStrides, dstStrides);
  const rank = triples.length / 3;
  let total = 1;
  for (let k = 0; k < triples.length; k += 3) total *= triples[k]!;
  const outerSize = rank === 0 ? 1 : triples[0]!;
  const threads = total < SPLIT_MIN_COPY || outerSize < 2 ? 1 : runner.threads;
  if (threads === 1) {
    const at = heap.scratch(4 * Math.max(3, triples.length));
    heap.i32(at, triples.length).set(triples);
    kernels.stridedCopy(src, dst, rank, at);
    return;
  }
  // one descriptor per block of the outermost axis (only its size differs), then one task per block
  const blocks = rowBlocks(outerSize, threads);
  const at = heap.scratch(4 * triples.length * blocks.length);
  const view = heap.i32(at, triples.length * blocks.length);
  const tasks = blocks.map(([b0, rows], b) => {
    view.set(triples, triples.length * b);
    view[triples.length * b] = rows;
    return [src + 4 * b0 * triples[1]!, dst + 4 * b0 * triples[2]!, rank, at + 4 * triples.length * b];
  });
  runner.run('stridedCopy', tasks, 0);
}

/** The 32 bits `value` is stored as in a tensor of `dtype`. */
export function bitsOf(value: number, dtype: DType): number {
  return dtype === 'int32' ? new Int32Array([value])[0]! : new Int32Array(Float32Array.of(value).buffer)[0]!;
}
