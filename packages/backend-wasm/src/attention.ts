/**
 * Host side of the fused chunked attention: checks the data-dependent rule the ops layer cannot
 * (positions inside the padding mask), sizes the scratch, and runs `assembly/attention.ts` per
 * (batch, head) — with threads, over (batch, head) × blocks of query chunks. The forward writes each
 * query chunk's rows from that chunk alone; the threaded backward stores each query chunk's dK / dV
 * terms and then sums them per key chunk in the single-threaded kernel's order. Either way the bits do
 * not depend on the thread count.
 */
import { InvalidArgumentError, type ChunkedAttentionParams, type KernelTensor } from '@reformer/core';
import type { WasmHeap, WasmStorage } from './heap.js';
import type { WasmKernelExports } from './kernels.js';
import type { KernelRunner } from './pool.js';

type T = KernelTensor<WasmStorage>;

/** Sizes and flags of one call. */
interface AttentionCall {
  B: number;
  H: number;
  N: number;
  /** Rows of q, k, v per head: N, or their own length when read by position. */
  rows: number;
  d: number;
  dv: number;
  flags: number;
  maskLength: number;
  maskRows: number;
  scratchBytes: number;
}

/** Validates `params` against the shapes and sizes the scratch of one forward (or `backward`) call. */
function prepare(
  kernels: WasmKernelExports,
  heap: WasmHeap,
  q: T,
  v: T,
  p: ChunkedAttentionParams<WasmStorage>,
  backward: boolean,
): AttentionCall {
  const [B, H, rows, d] = q.shape as [number, number, number, number];
  const dv = v.shape[3]!;
  const byPosition = p.byPosition === true && !backward;
  if (p.byPosition === true && backward) {
    throw new InvalidArgumentError(
      'chunkedAttentionBackward: byPosition is not supported by this kernel; core gathers the rows into slot order.',
    );
  }
  if (byPosition && p.positions === undefined) throw new InvalidArgumentError('chunkedAttention: byPosition needs positions.');
  const N = byPosition ? p.positions!.shape[2]! : rows;
  const c = p.chunkLength;
  if (!Number.isInteger(c) || c <= 0 || N % c !== 0) {
    throw new InvalidArgumentError(`chunkedAttention: chunkLength ${c} must be a positive integer that divides the sequence length ${N}.`);
  }
  if (!(Number.isInteger(p.chunksBefore) && Number.isInteger(p.chunksAfter) && p.chunksBefore >= 0 && p.chunksAfter >= 0)) {
    throw new InvalidArgumentError(
      `chunkedAttention: chunksBefore (${p.chunksBefore}) and chunksAfter (${p.chunksAfter}) must be integers >= 0.`,
    );
  }
  const maskLength = p.keyMask === undefined ? 0 : p.keyMask.shape[p.keyMask.shape.length - 1]!;
  const maskRows = p.keyMask === undefined || p.keyMask.shape.length < 2 ? 1 : p.keyMask.shape[0]!;
  if (p.keyMask !== undefined) {
    if (p.positions === undefined) {
      if (N > maskLength) {
        throw new InvalidArgumentError(
          `chunkedAttention: keyMask rows have length ${maskLength} but the ${N} slots use positions 0..${N - 1}; pass positions or a longer mask.`,
        );
      }
    } else {
      checkPositions(heap, p.positions, maskLength, `keyMask of length ${maskLength}`);
    }
  }
  if (byPosition) checkPositions(heap, p.positions!, rows, `rows of q, k and v (${rows})`);
  const bytes = kernels.attentionScratchBytes(N, d, dv, c, p.chunksBefore, p.chunksAfter, backward);
  const flags = (p.causal ? 1 : 0) | (p.excludeSelf ? 2 : 0) | (byPosition ? 4 : 0);
  return { B, H, N, rows, d, dv, flags, maskLength, maskRows, scratchBytes: bytes };
}

/** Every value of `positions` must lie in `[0, length)` (the kernel reads by it). */
function checkPositions(heap: WasmHeap, positions: T, length: number, what: string): void {
  const values = heap.i32(positions.storage.ptr, positions.storage.length);
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (x < 0 || x >= length) {
      throw new InvalidArgumentError(
        `chunkedAttention: position ${x} (at flat position ${i}) is out of range for the ${what}; valid positions are 0..${length - 1}.`,
      );
    }
  }
}

/** Byte offset of element `index` of optional int32 side input `t`, or 0 when absent. */
function at(t: T | undefined, index: number): number {
  return t === undefined ? 0 : t.storage.ptr + 4 * index;
}

/** Query-chunk ranges `[n0, n1)` splitting `chunks` into about `4 · threads / heads` pieces (at least one). */
function chunkRanges(chunks: number, heads: number, threads: number): [number, number][] {
  const pieces = threads === 1 ? 1 : Math.min(chunks, Math.max(1, Math.ceil((4 * threads) / heads)));
  const size = Math.ceil(chunks / pieces);
  const ranges: [number, number][] = [];
  for (let n0 = 0; n0 < chunks; n0 += size) ranges.push([n0, Math.min(chunks, n0 + size)]);
  return ranges;
}

/** The kernels' shape arguments: `N, d, dv, c, chunksBefore, chunksAfter`. */
function shapeArgs(call: AttentionCall, p: ChunkedAttentionParams<WasmStorage>): number[] {
  return [call.N, call.d, call.dv, p.chunkLength, p.chunksBefore, p.chunksAfter];
}

/**
 * Byte offsets of head `h` of batch `b` in q and k (`qk`, `[B, H, rows, d]`), v (`vIn`,
 * `[B, H, rows, dv]`), the `[B, H, N, dv]` outputs (`vo`) and the `[B, H, N]` ones (`row`), and its
 * side inputs (positions, buckets, mask row) as kernel arguments (rows = N unless read by position).
 */
function head(call: AttentionCall, p: ChunkedAttentionParams<WasmStorage>, b: number, h: number) {
  const { H, N, rows, d, dv } = call;
  const bh = b * H + h;
  return {
    qk: 4 * bh * rows * d,
    vIn: 4 * bh * rows * dv,
    vo: 4 * bh * N * dv,
    row: 4 * bh * N,
    sides: [at(p.positions, bh * N), at(p.buckets, bh * N), at(p.keyMask, call.maskRows === 1 ? 0 : b * call.maskLength)],
  };
}

/** Forward into `out` `[B, H, N, dv]` and `lse` `[B, H, N]` (allocated by the caller). */
export function attentionForward(
  kernels: WasmKernelExports,
  heap: WasmHeap,
  runner: KernelRunner,
  q: T,
  k: T,
  v: T,
  out: T,
  lse: T,
  p: ChunkedAttentionParams<WasmStorage>,
): void {
  const call = prepare(kernels, heap, q, v, p, false);
  const { B, H, N } = call;
  if (N === 0) return;
  const ranges = chunkRanges(N / p.chunkLength, B * H, runner.threads);
  const tasks: number[][] = [];
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const { qk, vIn, vo, row, sides } = head(call, p, b, h);
      const common = [
        ...[q.storage.ptr + qk, k.storage.ptr + qk, v.storage.ptr + vIn, out.storage.ptr + vo, lse.storage.ptr + row],
        ...[...shapeArgs(call, p), call.flags, p.scale, ...sides],
      ];
      for (const [n0, n1] of ranges) tasks.push([...common, n0, n1]);
    }
  }
  runner.run('attentionForward', tasks, call.scratchBytes);
  heap.trimScratch(); // a long chunk's logits (up to GiBs) are not kept between calls
}

/** Backward into `dq`, `dk` `[B, H, N, d]` and `dv` `[B, H, N, dv]` (allocated by the caller). */
export function attentionBackward(
  kernels: WasmKernelExports,
  heap: WasmHeap,
  runner: KernelRunner,
  q: T,
  k: T,
  v: T,
  out: T,
  lse: T,
  dOut: T,
  dLse: T,
  dq: T,
  dk: T,
  dvOut: T,
  p: ChunkedAttentionParams<WasmStorage>,
): void {
  const call = prepare(kernels, heap, q, v, p, true);
  const { B, H, N, d, dv } = call;
  if (N === 0) return;
  const shape = shapeArgs(call, p);
  /** The inputs of head `h` of batch `b`: q, k, v, out, lse, dOut, dLse; then its outputs' offsets and side inputs. */
  const inputs = (b: number, h: number) => {
    const o = head(call, p, b, h);
    const ptrs = [q.storage.ptr + o.qk, k.storage.ptr + o.qk, v.storage.ptr + o.vo, out.storage.ptr + o.vo, lse.storage.ptr + o.row];
    return { ...o, ptrs: [...ptrs, dOut.storage.ptr + o.vo, dLse.storage.ptr + o.row] };
  };
  if (runner.threads === 1) {
    const tasks: number[][] = [];
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const { qk, vo, sides, ptrs } = inputs(b, h);
        const outputs = [dq.storage.ptr + qk, dk.storage.ptr + qk, dvOut.storage.ptr + vo];
        tasks.push([...ptrs, ...outputs, ...shape, call.flags, p.scale, ...sides]);
      }
    }
    runner.run('attentionBackward', tasks, call.scratchBytes);
    heap.trimScratch();
    return;
  }
  // Threads: per (batch, head), query-chunk blocks store their dK / dV terms, then key-chunk blocks
  // sum them (in the single-threaded kernel's order).
  const chunks = N / p.chunkLength;
  const window = p.chunkLength * (p.chunksBefore + 1 + p.chunksAfter);
  const ranges = chunkRanges(chunks, 1, runner.threads);
  // The stored terms are counted in memory() (live and peak bytes) while the call runs.
  const partK = heap.alloc(chunks * window * d);
  let partV: WasmStorage | undefined;
  try {
    partV = heap.alloc(chunks * window * dv);
    const parts = [partK.ptr, partV.ptr];
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const { qk, vo, sides, ptrs } = inputs(b, h);
        const terms = [...ptrs, dq.storage.ptr + qk, ...shape, call.flags, p.scale, ...sides, ...parts];
        runner.run(
          'attentionBackwardPartials',
          ranges.map(([n0, n1]) => [...terms, n0, n1]),
          call.scratchBytes,
        );
        const sums = [dk.storage.ptr + qk, dvOut.storage.ptr + vo, ...shape, ...parts];
        runner.run(
          'attentionBackwardReduce',
          ranges.map(([m0, m1]) => [...sums, m0, m1]),
          0,
        );
      }
    }
  } finally {
    heap.free(partK);
    if (partV !== undefined) heap.free(partV);
    heap.trimScratch();
  }
}
