/**
 * Host side of the batched matmul: transpose flags become strides, broadcast batch axes become
 * per-matrix offsets, and each matrix pair runs the packed SIMD GEMM of `assembly/matmul.ts`. With
 * threads, the work is split over batch × row blocks: every output row is computed by one thread with
 * the kernel's loop order (the K blocking does not depend on the split), so the bits do not depend on
 * the thread count.
 */
import type { Shape } from '@reformer/core';
import type { WasmStorage } from './heap.js';
import type { WasmKernelExports } from './kernels.js';
import type { KernelRunner } from './pool.js';

/** Rows of the packed kernel's A panels: row blocks of a split are multiples of it. */
const MR = 4;
/** Below this many multiply-adds a matmul runs on the calling thread alone. */
const SPLIT_MIN_MADDS = 1 << 18;

/** The offset (in elements) of batch `index` of a tensor of `batchShape` broadcast to `outBatch`. */
function batchOffsets(batchShape: Shape, outBatch: Shape, matrixSize: number): Int32Array | number[] {
  const count = outBatch.reduce((p, d) => p * d, 1);
  const offsets = new Array<number>(count);
  const rank = outBatch.length;
  const pad = rank - batchShape.length;
  const strides = new Array<number>(rank).fill(0);
  let s = matrixSize;
  for (let i = rank - 1; i >= 0; i--) {
    const d = i - pad >= 0 ? batchShape[i - pad]! : 1;
    strides[i] = d === 1 ? 0 : s;
    s *= d;
  }
  for (let flat = 0; flat < count; flat++) {
    let rem = flat;
    let off = 0;
    for (let i = rank - 1; i >= 0; i--) {
      const d = outBatch[i]!;
      off += (rem % d) * strides[i]!;
      rem = Math.floor(rem / d);
    }
    offsets[flat] = off;
  }
  return offsets;
}

/** `out = op(a)·op(b)` over broadcast batches into `out` (allocated by the caller, `outShape`). */
export function batchedMatmul(
  kernels: WasmKernelExports,
  runner: KernelRunner,
  a: WasmStorage,
  aShape: Shape,
  b: WasmStorage,
  bShape: Shape,
  transposeA: boolean,
  transposeB: boolean,
  out: WasmStorage,
  outShape: Shape,
): void {
  const r = outShape.length;
  const M = outShape[r - 2]!;
  const N = outShape[r - 1]!;
  const K = transposeA ? aShape[aShape.length - 2]! : aShape[aShape.length - 1]!;
  const [rsA, csA] = transposeA ? [1, M] : [K, 1];
  const [rsB, csB] = transposeB ? [1, K] : [N, 1];
  const outBatch = outShape.slice(0, -2);
  const aOff = batchOffsets(aShape.slice(0, -2), outBatch, M * K);
  const bOff = batchOffsets(bShape.slice(0, -2), outBatch, K * N);
  if (M === 0 || N === 0) return;
  const count = aOff.length;
  const threads = M * N * K * count < SPLIT_MIN_MADDS ? 1 : runner.threads;
  // about four tasks per thread, so a thread slowed by other work does not hold the rest up
  const blocks = threads === 1 ? 1 : Math.min(Math.ceil(M / MR), Math.ceil((4 * threads) / count));
  const rows = Math.ceil(Math.ceil(M / blocks) / MR) * MR;
  const tasks: number[][] = [];
  for (let i = 0; i < count; i++) {
    for (let i0 = 0; i0 < M; i0 += rows) {
      const m = Math.min(rows, M - i0);
      tasks.push([
        a.ptr + 4 * (aOff[i]! + i0 * rsA),
        b.ptr + 4 * bOff[i]!,
        out.ptr + 4 * (i * M * N + i0 * N),
        m,
        N,
        K,
        rsA,
        csA,
        rsB,
        csB,
      ]);
    }
  }
  runner.run('matmul', tasks, kernels.matmulScratchBytes());
}
