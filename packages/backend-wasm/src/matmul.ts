/**
 * Host side of the batched matmul: transpose flags become strides, broadcast batch axes become
 * per-matrix offsets, and each matrix pair runs the packed SIMD GEMM of `assembly/matmul.ts`.
 */
import type { Shape } from '@reformer/core';
import type { WasmHeap, WasmStorage } from './heap.js';
import type { WasmKernelExports } from './kernels.js';

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
  heap: WasmHeap,
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
  const scratch = heap.scratch(kernels.matmulScratchBytes());
  for (let i = 0; i < aOff.length; i++) {
    kernels.matmul(a.ptr + 4 * aOff[i]!, b.ptr + 4 * bOff[i]!, out.ptr + 4 * i * M * N, M, N, K, rsA, csA, rsB, csB, scratch);
  }
}
