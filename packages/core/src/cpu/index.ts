/**
 * The reference CPU backend: plain TypeScript kernels over typed arrays (docs/architecture.md, "The
 * backends"). Every other backend is tested against it, so it favours exactness (double accumulation, float32 rounding once on
 * store) while staying reasonably fast (blocked loops, packed GEMM, no per-element allocation).
 *
 * @packageDocumentation
 */
import type {
  ActivationOp,
  Backend,
  BackendMemory,
  BinaryOp,
  ChunkedAttentionParams,
  KernelTensor,
  ReduceOp,
  UnaryOp,
} from '../backend.js';
import { InvalidArgumentError } from '../errors.js';
import type { DType, Shape, TypedArray } from '../types.js';
import { chunkedAttention, chunkedAttentionBackward, type AttentionDims, type AttentionOptions } from './attention.js';
import * as ew from './elementwise.js';
import { gather, scatterAdd } from './gather.js';
import { concat, pad, slice, transpose } from './layout.js';
import { crossEntropy, crossEntropyBackward } from './loss.js';
import { matmul } from './matmul.js';
import { layerNorm, layerNormBackward } from './norm.js';
import { argMax, reduce, reducedShape } from './reduce.js';
import { logSumExp, softmax } from './softmax.js';
import { argSort } from './sort.js';
import { copyAs, StorageTracker, type CpuStorage } from './storage.js';

export type { CpuStorage } from './storage.js';

/** A kernel tensor of the CPU backend. */
type T = KernelTensor<CpuStorage>;

/** The float32 values of a tensor (converted if it holds int32, which the ops layer does not send). */
function f32(t: T): Float32Array {
  const s = t.storage;
  return s instanceof Float32Array ? s : Float32Array.from(s);
}

/** The int32 values of a tensor (truncated if it holds float32, which the ops layer does not send). */
function i32(t: T): Int32Array {
  const s = t.storage;
  return s instanceof Int32Array ? s : Int32Array.from(s, Math.trunc);
}

/**
 * The reference CPU backend. Storage is a `Float32Array` (float32) or `Int32Array` (int32); reads and
 * writes copy. Memory accounting is exact: 4 bytes per element of every live storage.
 */
export class CpuBackend implements Backend<CpuStorage> {
  /** Always `'cpu'`. */
  readonly name = 'cpu';
  /**
   * The most bytes one allocation may take (checked by `checkAllocation` before sizes from user input
   * are allocated). Default {@link DEFAULT_CPU_MAX_ALLOCATION_BYTES}; set it (here or with
   * `createCpuBackend({ maxAllocationBytes })`) to allow larger tensors on a machine with the memory.
   */
  maxAllocationBytes: number;
  private readonly tracker = new StorageTracker();

  /** Use {@link createCpuBackend}. */
  constructor(options: CpuBackendOptions = {}) {
    const limit = options.maxAllocationBytes ?? DEFAULT_CPU_MAX_ALLOCATION_BYTES;
    if (typeof limit !== 'number' || !(limit > 0)) {
      throw new InvalidArgumentError(`createCpuBackend: maxAllocationBytes must be a positive number of bytes, got ${String(limit)}.`);
    }
    this.maxAllocationBytes = limit;
  }

  /** Registers kernel output as live storage and wraps it as a kernel tensor. */
  private wrap(storage: CpuStorage, shape: Shape, dtype: DType): T {
    this.tracker.track(storage);
    return { storage, shape: [...shape], dtype };
  }

  // ---- storage ----

  /** Copies `values` into new storage of `dtype` (converting float → int by truncation). */
  write(values: TypedArray, dtype: DType): CpuStorage {
    const storage = copyAs(values, dtype, values.length);
    this.tracker.track(storage);
    return storage;
  }

  /** A fresh copy of the first `size` values. */
  read(storage: CpuStorage, dtype: DType, size: number): Promise<TypedArray> {
    return Promise.resolve(copyAs(storage, dtype, size));
  }

  /** A fresh copy of the first `size` values, synchronously. */
  readSync(storage: CpuStorage, dtype: DType, size: number): TypedArray {
    return copyAs(storage, dtype, size);
  }

  /** Releases storage; its bytes are subtracted once (a repeated free is ignored). */
  free(storage: CpuStorage): void {
    this.tracker.release(storage);
  }

  /** Exact live and peak bytes and the number of live buffers. */
  memory(): BackendMemory {
    return this.tracker.memory();
  }

  /** Sets `peakBytes` to the current `liveBytes`. */
  resetPeak(): void {
    this.tracker.resetPeak();
  }

  /** Resolves at once: CPU work is synchronous. */
  sync(): Promise<void> {
    return Promise.resolve();
  }

  /** Nothing to release: storage is garbage-collected once freed and unreferenced. */
  dispose(): void {}

  // ---- element-wise ----

  /** A tensor of `shape` filled with `value`. */
  fill(shape: Shape, value: number, dtype: DType): T {
    return this.wrap(ew.fill(shape, value, dtype), shape, dtype);
  }

  /** `op(x)` element-wise; see `elementwise.ts` for the exact definitions (round half to even, exact GELU). */
  unary(op: UnaryOp, x: T): T {
    return this.wrap(ew.unary(op, x.storage), x.shape, x.dtype);
  }

  /** `a op b` with NumPy broadcasting; int32 `div` is floor division and `mod` follows the divisor's sign. */
  binary(op: BinaryOp, a: T, b: T, outShape: Shape): T {
    const out = ew.binary(op, a.storage, a.shape, b.storage, b.shape, outShape, a.dtype);
    return this.wrap(out, outShape, out instanceof Int32Array ? 'int32' : 'float32');
  }

  /** `cond ? a : b`, broadcast to `outShape`. */
  where(cond: T, a: T, b: T, outShape: Shape): T {
    const out = ew.where(i32(cond), cond.shape, a.storage, a.shape, b.storage, b.shape, outShape, a.dtype);
    return this.wrap(out, outShape, a.dtype);
  }

  /** Converts dtype; float → int truncates toward zero. */
  cast(x: T, dtype: DType): T {
    return this.wrap(ew.cast(x.storage, dtype), x.shape, dtype);
  }

  // ---- reductions ----

  /** Sum, max or min over `axes` (removed from the shape). */
  reduce(op: ReduceOp, x: T, axes: readonly number[]): T {
    return this.wrap(reduce(op, x.storage, x.shape, axes, x.dtype), reducedShape(x.shape, axes), x.dtype);
  }

  /** Index of the first maximum along `axis` (NaN never counts as greater), int32. */
  argMax(x: T, axis: number): T {
    return this.wrap(argMax(x.storage, x.shape, axis), reducedShape(x.shape, [axis]), 'int32');
  }

  /** Stable ascending argsort along the last axis (NaN last), int32. */
  argSort(x: T): T {
    return this.wrap(argSort(x.storage, x.shape), x.shape, 'int32');
  }

  // ---- matmul ----

  /** Batched matrix product with transpose flags and broadcast batch axes (packed, register-blocked GEMM). */
  matmul(a: T, b: T, transposeA: boolean, transposeB: boolean, outShape: Shape): T {
    return this.wrap(matmul(f32(a), a.shape, f32(b), b.shape, transposeA, transposeB, outShape), outShape, 'float32');
  }

  // ---- layout ----

  /** Permutes axes: output axis i is input axis `perm[i]`. */
  transpose(x: T, perm: readonly number[]): T {
    return this.wrap(
      transpose(x.storage, x.shape, perm),
      perm.map((p) => x.shape[p]!),
      x.dtype,
    );
  }

  /** The box `begin[i] .. begin[i] + size[i]` of every axis. */
  slice(x: T, begin: readonly number[], size: readonly number[]): T {
    return this.wrap(slice(x.storage, x.shape, begin, size), size, x.dtype);
  }

  /** Joins tensors along `axis`. */
  concat(xs: readonly T[], axis: number): T {
    const first = xs[0]!;
    const shape = [...first.shape];
    shape[axis] = xs.reduce((s, x) => s + x.shape[axis]!, 0);
    const parts = xs.map((x) => ({ data: x.storage, shape: x.shape }));
    return this.wrap(concat(parts, axis, first.storage), shape, first.dtype);
  }

  /** Pads every axis with `[before, after]` copies of `value`. */
  pad(x: T, paddings: readonly (readonly [number, number])[], value: number): T {
    const shape = x.shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]);
    return this.wrap(pad(x.storage, x.shape, paddings, value), shape, x.dtype);
  }

  /** Batched gather along `axis`; an index outside `[0, x.shape[axis])` throws `InvalidArgumentError`. */
  gather(x: T, indices: T, axis: number): T {
    const n = indices.shape[indices.shape.length - 1]!;
    const shape = [...x.shape.slice(0, axis), n, ...x.shape.slice(axis + 1)];
    return this.wrap(gather(x.storage, x.shape, i32(indices), n, axis), shape, x.dtype);
  }

  /** The adjoint of `gather`; an index outside `[0, size)` throws `InvalidArgumentError`. */
  scatterAdd(updates: T, indices: T, axis: number, size: number): T {
    const shape = [...updates.shape];
    shape[axis] = size;
    return this.wrap(scatterAdd(updates.storage, updates.shape, i32(indices), axis, size), shape, updates.dtype);
  }

  // ---- fused kernels ----

  /** Softmax over the last axis; a row of all −Infinity gives zeros. */
  softmax(x: T): T {
    return this.wrap(softmax(f32(x), x.shape), x.shape, 'float32');
  }

  /** `log Σ exp` over the last axis (removed); a row of all −Infinity gives −Infinity. */
  logSumExp(x: T): T {
    return this.wrap(logSumExp(f32(x), x.shape), x.shape.slice(0, -1), 'float32');
  }

  /** Layer norm over the last axis with biased variance; returns `mean` and `rstd` for the backward. */
  layerNorm(x: T, gamma: T, beta: T, eps: number): { y: T; mean: T; rstd: T } {
    const r = layerNorm(f32(x), x.shape, f32(gamma), f32(beta), eps);
    const stats = x.shape.slice(0, -1);
    return {
      y: this.wrap(r.y, x.shape, 'float32'),
      mean: this.wrap(r.mean, stats, 'float32'),
      rstd: this.wrap(r.rstd, stats, 'float32'),
    };
  }

  /** Gradients of `layerNorm` with respect to x, gamma and beta. */
  layerNormBackward(dy: T, x: T, gamma: T, mean: T, rstd: T): { dx: T; dGamma: T; dBeta: T } {
    const r = layerNormBackward(f32(dy), f32(x), x.shape, f32(gamma), f32(mean), f32(rstd));
    return {
      dx: this.wrap(r.dx, x.shape, 'float32'),
      dGamma: this.wrap(r.dGamma, gamma.shape, 'float32'),
      dBeta: this.wrap(r.dBeta, gamma.shape, 'float32'),
    };
  }

  /** `dy · f'(x)`: relu' = (x > 0 ? 1 : 0), gelu' = Φ(x) + x·φ(x). */
  activationBackward(op: ActivationOp, x: T, dy: T): T {
    return this.wrap(ew.activationBackward(op, f32(x), f32(dy)), x.shape, 'float32');
  }

  /** Per-row cross-entropy and logsumexp; a label outside `[0, V)` (not `ignoreIndex`) throws. */
  crossEntropy(logits: T, labels: T, ignoreIndex: number): { loss: T; lse: T } {
    const [N, V] = logits.shape as [number, number];
    const r = crossEntropy(f32(logits), i32(labels), N, V, ignoreIndex);
    return { loss: this.wrap(r.loss, [N], 'float32'), lse: this.wrap(r.lse, [N], 'float32') };
  }

  /** `dLoss · (softmax − onehot)` per row, zero on ignored rows. */
  crossEntropyBackward(logits: T, labels: T, lse: T, dLoss: T, ignoreIndex: number): T {
    const [N, V] = logits.shape as [number, number];
    const out = crossEntropyBackward(f32(logits), i32(labels), f32(lse), f32(dLoss), N, V, ignoreIndex);
    return this.wrap(out, logits.shape, 'float32');
  }

  /** Fused chunked attention: output `[B, H, N, dv]` and per-query logsumexp `[B, H, N]`. */
  chunkedAttention(q: T, k: T, v: T, params: ChunkedAttentionParams<CpuStorage>): { out: T; lse: T } {
    const dims = attentionDims(q, v);
    const r = chunkedAttention(f32(q), f32(k), f32(v), dims, attentionOptions(params));
    return {
      out: this.wrap(r.out, v.shape, 'float32'),
      lse: this.wrap(r.lse, q.shape.slice(0, 3), 'float32'),
    };
  }

  /** Backward of `chunkedAttention`, recomputing the logits window by window. */
  chunkedAttentionBackward(
    q: T,
    k: T,
    v: T,
    out: T,
    lse: T,
    dOut: T,
    dLse: T,
    params: ChunkedAttentionParams<CpuStorage>,
  ): { dq: T; dk: T; dv: T } {
    const dims = attentionDims(q, v);
    const r = chunkedAttentionBackward(f32(q), f32(k), f32(v), f32(out), f32(lse), f32(dOut), f32(dLse), dims, attentionOptions(params));
    return {
      dq: this.wrap(r.dq, q.shape, 'float32'),
      dk: this.wrap(r.dk, k.shape, 'float32'),
      dv: this.wrap(r.dv, v.shape, 'float32'),
    };
  }
}

function attentionDims(q: T, v: T): AttentionDims {
  const [B, H, N, d] = q.shape as [number, number, number, number];
  return { B, H, N, d, dv: v.shape[3]! };
}

function attentionOptions(p: ChunkedAttentionParams<CpuStorage>): AttentionOptions {
  return {
    chunkLength: p.chunkLength,
    chunksBefore: p.chunksBefore,
    chunksAfter: p.chunksAfter,
    causal: p.causal,
    excludeSelf: p.excludeSelf,
    scale: p.scale,
    positions: p.positions === undefined ? undefined : i32(p.positions),
    keyMask: p.keyMask === undefined ? undefined : i32(p.keyMask),
    maskLength: p.keyMask === undefined ? 0 : p.keyMask.shape[p.keyMask.shape.length - 1]!,
    maskRows: p.keyMask === undefined || p.keyMask.shape.length < 2 ? 1 : p.keyMask.shape[0]!,
    buckets: p.buckets === undefined ? undefined : i32(p.buckets),
    dropout: p.dropout,
  };
}

/**
 * The CPU backend's default bound of one allocation: 4 GiB (a `Float32Array` of 2^30 elements). It is
 * below the typed-array limit of every current JavaScript engine (V8 allows 2^32 elements) and a sane
 * share of a typical machine's memory; raise it with `createCpuBackend({ maxAllocationBytes })`.
 */
export const DEFAULT_CPU_MAX_ALLOCATION_BYTES = 2 ** 32;

/** Options of {@link createCpuBackend}. */
export interface CpuBackendOptions {
  /** The most bytes one allocation may take (default {@link DEFAULT_CPU_MAX_ALLOCATION_BYTES}). */
  maxAllocationBytes?: number;
}

/** Creates a new reference CPU backend (its own memory accounting). */
export function createCpuBackend(options: CpuBackendOptions = {}): CpuBackend {
  return new CpuBackend(options);
}
