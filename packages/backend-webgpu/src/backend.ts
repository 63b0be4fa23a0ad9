/**
 * `WebGPUBackend`: the core `Backend` contract on our own WGSL kernels (see `kernels/`). Storage is a
 * pooled GPU buffer per tensor; kernels are recorded into the runtime's queue and submitted in
 * batches; `read()` is the only readback.
 */
import {
  isCompareOp,
  type ActivationOp,
  type Backend,
  type BackendMemory,
  type BinaryOp,
  type ChunkedAttentionParams,
  type DType,
  type KernelTensor,
  type ReduceOp,
  type Shape,
  type TypedArray,
  type UnaryOp,
} from '@reformer/core';
import type { GpuStorage, KernelContext } from './context.js';
import { WebGPUBufferTooLargeError, WebGPUFeatureError, WebGPUOutOfMemoryError } from './errors.js';
import * as attention from './kernels/attention.js';
import * as ew from './kernels/elementwise.js';
import { gather, scatterAdd } from './kernels/gather.js';
import * as layout from './kernels/layout.js';
import { crossEntropy, crossEntropyBackward } from './kernels/loss.js';
import { matmul, type MatmulPrecision } from './kernels/matmul.js';
import { layerNorm, layerNormBackward } from './kernels/norm.js';
import { reduce } from './kernels/reduce.js';
import { logSumExp, softmax } from './kernels/softmax.js';
import { argSort } from './kernels/sort.js';
import type { ReduceMode } from './kernels/rows.js';
import { GpuRuntime } from './runtime.js';
import { GPU_BUFFER_USAGE } from './buffers.js';

type T = KernelTensor<GpuStorage>;

/** What the backend reports about its adapter. */
export interface WebGPUAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** How the adapter was obtained (e.g. `vulkan`, `opengles`, `navigator.gpu`), when known. */
  backend?: string;
}

/** Construction options of {@link WebGPUBackend} (normally made by `createWebGPUBackend`). */
export interface WebGPUBackendInit {
  device: GPUDevice;
  adapterInfo: WebGPUAdapterInfo;
  features: ReadonlySet<string>;
  /** Most bytes of idle buffers kept for reuse (default 256 MiB). */
  poolCapBytes?: number;
  /**
   * Use subgroup variants of the reducing kernels (default: when the device has `subgroups`). Ignored
   * (off) when the device lacks the feature.
   */
  useSubgroups?: boolean;
  /**
   * The WGSL implementation has the `subgroup_id` language feature (`subgroup_id`/`num_subgroups`
   * builtins): subgroup slots are indexed by it; otherwise they are claimed and ranked (default false).
   */
  subgroupIdBuiltin?: boolean;
  /** Precision of the tiled matmul's workgroup tiles (default `'f32'`; `'f16'` needs `shader-f16`). */
  matmulPrecision?: MatmulPrecision;
  /** Called by `dispose()` (e.g. to destroy a device the backend created). */
  onDispose?: () => void;
  /** Objects that must live as long as the backend (Dawn's `GPU` instance in Node). */
  retain?: unknown;
}

/** The optional device features the kernels use, and which kernel variants they select. */
export interface WebGPUKernelFeatures {
  /** The device has `subgroups`. */
  subgroupsAvailable: boolean;
  /** The device has `shader-f16` (requested when the adapter has it). */
  shaderF16Available: boolean;
  /** Precision of the tiled matmul's workgroup tiles: `f32`, or `f16` when asked for (`matmulPrecision`). */
  matmulPrecision: MatmulPrecision;
  /**
   * How reducing kernels combine values across a workgroup: `tree` (workgroup memory only),
   * `subgroup` (subgroup operations, slots by `subgroup_id`) or `subgroupSlots` (subgroup operations,
   * atomically claimed slots ranked by the subgroup's first invocation).
   */
  reduceMode: ReduceMode;
}

/** Allocations from this size on run inside an out-of-memory error scope. */
const LARGE_ALLOCATION = 16 * 1024 * 1024;

/**
 * The WebGPU backend. Implements every kernel of core's `Backend` in WGSL; `read()` is asynchronous
 * (no `readSync`). Create it with `createWebGPUBackend()` (browser or Node with a `GPU` object) or
 * `createNodeWebGPUBackend()` from `@reformer/backend-webgpu/node`.
 */
export class WebGPUBackend implements Backend<GpuStorage> {
  /** Always `'webgpu'`. */
  readonly name = 'webgpu';
  /** The adapter this backend runs on. */
  readonly adapterInfo: WebGPUAdapterInfo;
  /** Whether the device has `timestamp-query` (benchmarks use GPU timestamps then). */
  readonly hasTimestamps: boolean;
  /** The device's features. */
  readonly features: ReadonlySet<string>;
  /** Which optional features the kernels use (subgroup variants of the reductions). */
  readonly kernelFeatures: WebGPUKernelFeatures;
  /** The GPU device (for interop and benchmarks; do not destroy it while the backend is in use). */
  readonly device: GPUDevice;
  /** The command stream (dispatch queue, pipeline cache, buffer pool). */
  readonly runtime: GpuRuntime;
  /**
   * The most bytes one buffer may take: the device's `maxStorageBufferBindingSize` (every tensor is
   * bound as a storage buffer), capped by `maxBufferSize`. Raise it by requesting a device with higher
   * limits (up to what the adapter offers; the backend already asks for the adapter's maximum).
   */
  get maxAllocationBytes(): number {
    const { maxStorageBufferBindingSize, maxBufferSize } = this.device.limits;
    return Math.min(maxStorageBufferBindingSize, maxBufferSize);
  }
  private readonly live = new Set<GpuStorage>();
  private liveBytes = 0;
  private peakBytes = 0;
  private readonly ctx: KernelContext;
  private readonly onDispose: (() => void) | undefined;
  private disposed = false;
  private readonly retained: unknown;

  constructor(init: WebGPUBackendInit) {
    this.retained = init.retain;
    this.device = init.device;
    this.adapterInfo = init.adapterInfo;
    this.features = init.features;
    this.hasTimestamps = init.features.has('timestamp-query');
    const subgroupsAvailable = init.features.has('subgroups');
    const reduceMode: ReduceMode =
      subgroupsAvailable && (init.useSubgroups ?? true) ? (init.subgroupIdBuiltin ? 'subgroup' : 'subgroupSlots') : 'tree';
    const shaderF16Available = init.features.has('shader-f16');
    const matmulPrecision = init.matmulPrecision ?? 'f32';
    if (matmulPrecision === 'f16' && !shaderF16Available) {
      throw new WebGPUFeatureError(
        `webgpu: matmulPrecision 'f16' needs the device feature 'shader-f16', which this device (${init.adapterInfo.description || init.adapterInfo.device || 'unknown adapter'}) ` +
          `does not have (features: ${[...init.features].join(', ') || 'none'}). Use matmulPrecision 'f32' (the default), or an adapter with shader-f16.`,
      );
    }
    this.kernelFeatures = { subgroupsAvailable, shaderF16Available, matmulPrecision, reduceMode };
    this.onDispose = init.onDispose;
    this.runtime = new GpuRuntime(init.device, init.poolCapBytes ?? 256 * 1024 * 1024);
    const maxBytes = init.device.limits.maxStorageBufferBindingSize;
    const dummy = init.device.createBuffer({ size: 16, usage: GPU_BUFFER_USAGE.STORAGE | GPU_BUFFER_USAGE.COPY_DST });
    this.ctx = {
      rt: this.runtime,
      alloc: (size) => this.alloc(size),
      scratch: (bytes) => {
        if (bytes > maxBytes) throw new WebGPUBufferTooLargeError(bytes, maxBytes);
        return this.runtime.pool.acquire(bytes);
      },
      dummy,
      maxElements: Math.floor(maxBytes / 4),
      reduceMode,
      matmulPrecision,
    };
  }

  private alloc(size: number): GpuStorage {
    this.runtime.check();
    const bytes = size * 4;
    const limit = this.device.limits.maxStorageBufferBindingSize;
    if (bytes > limit) throw new WebGPUBufferTooLargeError(bytes, limit);
    let buffer: GPUBuffer;
    if (bytes >= LARGE_ALLOCATION) {
      this.device.pushErrorScope('out-of-memory');
      buffer = this.runtime.pool.acquire(bytes);
      void this.device.popErrorScope().then(
        (e) => {
          if (e) this.runtime.fail(new WebGPUOutOfMemoryError(`webgpu: allocating ${bytes} bytes failed: ${e.message}`));
        },
        () => undefined,
      );
    } else {
      buffer = this.runtime.pool.acquire(bytes);
    }
    const s: GpuStorage = { buffer, size };
    this.live.add(s);
    this.liveBytes += bytes;
    if (this.liveBytes > this.peakBytes) this.peakBytes = this.liveBytes;
    return s;
  }

  private out(storage: GpuStorage, shape: Shape, dtype: DType): T {
    return { storage, shape: [...shape], dtype };
  }

  // ---- storage ----

  /** Uploads `values` (converted to `dtype`; float → int truncates) into new storage. */
  write(values: TypedArray, dtype: DType): GpuStorage {
    const s = this.alloc(values.length);
    if (values.length > 0) {
      const data =
        dtype === 'int32'
          ? values instanceof Int32Array
            ? values
            : Int32Array.from(values, Math.trunc)
          : values instanceof Float32Array
            ? values
            : Float32Array.from(values);
      this.device.queue.writeBuffer(s.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    }
    return s;
  }

  /** Flushes queued kernels and reads the first `size` values back (the only readback). */
  async read(storage: GpuStorage, dtype: DType, size: number): Promise<TypedArray> {
    const bytes = await this.runtime.read(storage.buffer, size * 4);
    return dtype === 'int32' ? new Int32Array(bytes) : new Float32Array(bytes);
  }

  /** Releases storage to the buffer pool. */
  free(storage: GpuStorage): void {
    if (!this.live.delete(storage)) return;
    this.liveBytes -= storage.size * 4;
    if (!this.disposed) this.runtime.recycle(storage.buffer);
  }

  /** Exact live and peak bytes of tensor storage; `pooledBytes` are idle buffers kept for reuse. */
  memory(): BackendMemory {
    return {
      liveBytes: this.liveBytes,
      peakBytes: this.peakBytes,
      liveBuffers: this.live.size,
      pooledBytes: this.runtime.pool.pooledBytes,
      pipelines: this.runtime.pipelines.size,
    };
  }

  /** Sets `peakBytes` to `liveBytes`. */
  resetPeak(): void {
    this.peakBytes = this.liveBytes;
  }

  /** Submits queued kernels and waits until the GPU has finished them (throws a recorded device error). */
  async sync(): Promise<void> {
    this.runtime.flush();
    await this.runtime.settle();
  }

  /** Releases the pool; destroys the device if the backend created it. Later calls throw. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.runtime.dispose();
    this.onDispose?.();
  }

  // ---- element-wise ----

  fill(shape: Shape, value: number, dtype: DType): T {
    return this.out(ew.fill(this.ctx, shape, value, dtype), shape, dtype);
  }

  unary(op: UnaryOp, x: T): T {
    return this.out(ew.unary(this.ctx, op, x.storage, x.shape, x.dtype), x.shape, x.dtype);
  }

  binary(op: BinaryOp, a: T, b: T, outShape: Shape): T {
    const isCompare = isCompareOp(op);
    return this.out(ew.binary(this.ctx, op, a, b, outShape, a.dtype), outShape, isCompare ? 'int32' : a.dtype);
  }

  where(cond: T, a: T, b: T, outShape: Shape): T {
    return this.out(ew.where(this.ctx, cond, a, b, outShape, a.dtype), outShape, a.dtype);
  }

  cast(x: T, dtype: DType): T {
    return this.out(ew.cast(this.ctx, x.storage, x.shape, x.dtype, dtype), x.shape, dtype);
  }

  // ---- reductions ----

  reduce(op: ReduceOp, x: T, axes: readonly number[]): T {
    const shape = x.shape.filter((_, i) => !axes.includes(i));
    return this.out(reduce(this.ctx, op, x.storage, x.shape, axes, x.dtype), shape, x.dtype);
  }

  argMax(x: T, axis: number): T {
    const shape = x.shape.filter((_, i) => i !== axis);
    return this.out(reduce(this.ctx, 'argMax', x.storage, x.shape, [axis], x.dtype), shape, 'int32');
  }

  argSort(x: T): T {
    return this.out(argSort(this.ctx, x.storage, x.shape, x.dtype), x.shape, 'int32');
  }

  // ---- matmul ----

  matmul(a: T, b: T, transposeA: boolean, transposeB: boolean, outShape: Shape): T {
    return this.out(matmul(this.ctx, a, b, transposeA, transposeB, outShape), outShape, 'float32');
  }

  // ---- layout ----

  transpose(x: T, perm: readonly number[]): T {
    return this.out(
      layout.transpose(this.ctx, x.storage, x.shape, perm, x.dtype),
      perm.map((a) => x.shape[a]!),
      x.dtype,
    );
  }

  slice(x: T, begin: readonly number[], size: readonly number[]): T {
    return this.out(layout.slice(this.ctx, x.storage, x.shape, begin, size, x.dtype), size, x.dtype);
  }

  concat(xs: readonly T[], axis: number): T {
    const r = layout.concat(this.ctx, xs, axis, xs[0]!.dtype);
    return this.out(r.storage, r.shape, xs[0]!.dtype);
  }

  pad(x: T, paddings: readonly (readonly [number, number])[], value: number): T {
    const shape = x.shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]);
    return this.out(layout.pad(this.ctx, x.storage, x.shape, paddings, value, x.dtype), shape, x.dtype);
  }

  gather(x: T, indices: T, axis: number): T {
    const n = indices.shape[indices.shape.length - 1]!;
    const shape = [...x.shape.slice(0, axis), n, ...x.shape.slice(axis + 1)];
    return this.out(gather(this.ctx, x.storage, x.shape, indices.storage, n, axis, x.dtype), shape, x.dtype);
  }

  scatterAdd(updates: T, indices: T, axis: number, size: number): T {
    const shape = [...updates.shape];
    shape[axis] = size;
    return this.out(scatterAdd(this.ctx, updates.storage, updates.shape, indices.storage, axis, size, updates.dtype), shape, updates.dtype);
  }

  // ---- fused ----

  softmax(x: T): T {
    return this.out(softmax(this.ctx, x.storage, x.shape), x.shape, 'float32');
  }

  logSumExp(x: T): T {
    return this.out(logSumExp(this.ctx, x.storage, x.shape), x.shape.slice(0, -1), 'float32');
  }

  layerNorm(x: T, gamma: T, beta: T, eps: number): { y: T; mean: T; rstd: T } {
    const r = layerNorm(this.ctx, x.storage, x.shape, gamma.storage, beta.storage, eps);
    const stats = x.shape.slice(0, -1);
    return { y: this.out(r.y, x.shape, 'float32'), mean: this.out(r.mean, stats, 'float32'), rstd: this.out(r.rstd, stats, 'float32') };
  }

  layerNormBackward(dy: T, x: T, gamma: T, mean: T, rstd: T): { dx: T; dGamma: T; dBeta: T } {
    const r = layerNormBackward(this.ctx, dy.storage, x.storage, x.shape, gamma.storage, mean.storage, rstd.storage);
    return {
      dx: this.out(r.dx, x.shape, 'float32'),
      dGamma: this.out(r.dGamma, gamma.shape, 'float32'),
      dBeta: this.out(r.dBeta, gamma.shape, 'float32'),
    };
  }

  activationBackward(op: ActivationOp, x: T, dy: T): T {
    return this.out(ew.activationBackward(this.ctx, op, x.storage, dy.storage, x.shape), x.shape, 'float32');
  }

  crossEntropy(logits: T, labels: T, ignoreIndex: number): { loss: T; lse: T } {
    const [N, V] = logits.shape as [number, number];
    const r = crossEntropy(this.ctx, logits.storage, labels.storage, N, V, ignoreIndex);
    return { loss: this.out(r.loss, [N], 'float32'), lse: this.out(r.lse, [N], 'float32') };
  }

  crossEntropyBackward(logits: T, labels: T, lse: T, dLoss: T, ignoreIndex: number): T {
    const [N, V] = logits.shape as [number, number];
    return this.out(
      crossEntropyBackward(this.ctx, logits.storage, labels.storage, lse.storage, dLoss.storage, N, V, ignoreIndex),
      logits.shape,
      'float32',
    );
  }

  chunkedAttention(q: T, k: T, v: T, params: ChunkedAttentionParams<GpuStorage>): { out: T; lse: T } {
    const r = attention.chunkedAttention(this.ctx, q, k, v, params);
    return { out: this.out(r.out, v.shape, 'float32'), lse: this.out(r.lse, q.shape.slice(0, 3), 'float32') };
  }

  chunkedAttentionBackward(
    q: T,
    k: T,
    v: T,
    out: T,
    lse: T,
    dOut: T,
    dLse: T,
    params: ChunkedAttentionParams<GpuStorage>,
  ): { dq: T; dk: T; dv: T } {
    const r = attention.chunkedAttentionBackward(this.ctx, q, k, v, out, lse, dOut, dLse, params);
    return { dq: this.out(r.dq, q.shape, 'float32'), dk: this.out(r.dk, k.shape, 'float32'), dv: this.out(r.dv, v.shape, 'float32') };
  }
}
