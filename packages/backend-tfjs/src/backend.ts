/**
 * The core `Backend` contract on TensorFlow.js. Storage is a tfjs `Tensor` (kept with `tf.keep`); every
 * kernel runs inside `tf.tidy`, so its intermediates are disposed before it returns.
 *
 * This file holds the class, its options, storage accounting and interop; the kernels are in
 * `kernels/`, one file per kernel family as in core's `cpu/` and backend-webgpu's `kernels/`:
 * `elementwise.ts`, `reduce.ts`, `softmax.ts`, `norm.ts`, `loss.ts`, `gather.ts`, `sort.ts` (tfjs ops),
 * `host-copy.ts` and `host-math.ts` (typed-array paths on the host-memory backends, cpu and wasm) and
 * `attention.ts` (chunked attention, with its planning and strategies in `attention-plan.ts`,
 * `attention-batched.ts`, `attention-band.ts`, `attention-band-softmax.ts` and `attention-host-io.ts`).
 * Every use of tfjs internals is in `tfjs-internals.ts`.
 */
import {
  InvalidArgumentError,
  checkDivisor,
  checkInteger,
  formatValue,
  isCompareOp,
  sizeOf,
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
import {
  attentionBackward,
  attentionForward,
  type AttentionConfig,
  type AttentionInputs,
  type AttentionStrategy,
} from './kernels/attention.js';
import { activationGrad, binaryOp, castOp, unaryOp } from './kernels/elementwise.js';
import { gatherOp, scatterAddOp } from './kernels/gather.js';
import { broadcastHost, convert, hostConcat, hostGather, hostScatterAdd, hostSlice, type HostArray } from './kernels/host-copy.js';
import { hostArgMax, hostArgSort, hostIntBinary, hostReduce } from './kernels/host-math.js';
import { crossEntropyGrad, crossEntropyOp } from './kernels/loss.js';
import { layerNormGrad, layerNormOp } from './kernels/norm.js';
import { argMaxOp, reduceOp } from './kernels/reduce.js';
import { logSumExpOp, softmaxOp } from './kernels/softmax.js';
import { argSortOp, MAX_DEVICE_SORT } from './kernels/sort.js';
import { wasmHeapOf, type HostReads } from './tfjs-internals.js';
import type { TfjsStorage, TfModule, TfTensor } from './types.js';

export type { AttentionStrategy } from './kernels/attention.js';
export type { HostReads } from './tfjs-internals.js';
export type { TfjsStorage, TfModule, TfTensor } from './types.js';

/** Tuning of {@link TfjsBackend} (all optional; see `createTfjsBackend`). */
export interface TfjsTuning {
  /**
   * Upper bound in bytes of the logits one chunk group of `chunkedAttention` holds (forward and
   * backward work group by group, so the kernel's temporaries are a few times this, not the whole
   * `[B·H, nChunks, chunk, window]` logits). Default 4 MiB.
   */
  attentionGroupBytes?: number;
  /**
   * `band`: consecutive chunks as one 2-D matmul with a masked band (fast on wasm, whose batched
   * matmul is a naive loop); `batched`: one batched matmul per group. Default: `band` on `wasm`,
   * `batched` elsewhere.
   */
  attentionStrategy?: AttentionStrategy;
  /** Most chunks in one band group (default 2: 1 and 2 equally fast at L 16K on wasm, 3 and 4 slower). */
  attentionBandChunks?: number;
  /**
   * The most bytes one tensor may take (the Backend contract's `maxAllocationBytes`; sizes from user
   * input are checked against it before anything is allocated). Default: 2 GiB on `wasm` (a wasm32
   * heap holds at most 4 GiB, shared by every tensor), 4 GiB elsewhere. Raise it on a machine (or GPU)
   * with the memory.
   */
  maxAllocationBytes?: number;
}

/** What this backend's kernels run on, as the other backends report it (`kernelFeatures`). */
export interface TfjsKernelFeatures {
  /**
   * How the host-memory kernels (the `band` attention strategy) read tfjs tensors: `wasm-heap` (in
   * place, through tfjs-wasm internals that passed the check at creation) or `copy` (one `dataSync`
   * per tensor: on every other tfjs backend, and on tfjs-wasm when a tfjs release changed those
   * internals). Both give the same values; `copy` is slower.
   */
  hostReads: HostReads;
  /** Why `hostReads` is `copy` (absent when it is `wasm-heap`). */
  hostReadsReason?: string;
}

type T = KernelTensor<TfjsStorage>;

/** tfjs backends on which a synchronous `dataSync` read works (webgl/webgpu are asynchronous). */
const SYNC_BACKENDS: ReadonlySet<string> = new Set(['cpu', 'wasm', 'tensorflow']);

/**
 * The Backend contract on TensorFlow.js. Create it with {@link createTfjsBackend}.
 *
 * Several instances may coexist (they are distinct `Backend` objects with their own accounting) but
 * they all run on tfjs's one global backend, chosen by the last `createTfjsBackend`.
 */
export class TfjsBackend implements Backend<TfjsStorage> {
  /** `tfjs-<tfjs backend name>`, e.g. `tfjs-wasm`. */
  readonly name: string;
  /** The tfjs module this backend runs on. */
  readonly tf: TfModule;
  /** The tfjs backend name (`wasm`, `cpu`, `webgl`, `webgpu`, `tensorflow`). */
  readonly backendName: string;
  /** Whether synchronous reads (`readSync`, index validation) are available. */
  readonly canReadSync: boolean;
  /** Synchronous read through `dataSync`: present only on the `cpu`, `wasm` and `tensorflow` tfjs backends. */
  readSync?: (storage: TfjsStorage, dtype: DType, size: number) => TypedArray;
  /** The chunked-attention tuning in use. */
  readonly attention: AttentionConfig;
  /** The most bytes one tensor may take (see {@link TfjsTuning.maxAllocationBytes}); settable. */
  maxAllocationBytes: number;
  /** How the kernels read tensors on the host (see {@link TfjsKernelFeatures}), decided at creation. */
  readonly kernelFeatures: TfjsKernelFeatures;
  private readonly live = new Set<TfjsStorage>();
  private liveBytes = 0;
  private peakBytes = 0;

  /** Use {@link createTfjsBackend}. */
  constructor(tf: TfModule, backendName: string, tuning: TfjsTuning = {}) {
    this.tf = tf;
    this.canReadSync = SYNC_BACKENDS.has(backendName);
    const groupBytes = tuning.attentionGroupBytes ?? 4 * 2 ** 20;
    const bandChunks = tuning.attentionBandChunks ?? 2;
    if (!(groupBytes > 0)) throw new InvalidArgumentError(`TfjsBackend: attentionGroupBytes must be > 0, got ${formatValue(groupBytes)}.`);
    checkInteger('TfjsBackend', 'attentionBandChunks', bandChunks, 1);
    this.attention = {
      groupBytes,
      bandChunks,
      // band needs synchronous reads (host data movement): never on webgl/webgpu.
      strategy: this.canReadSync ? (tuning.attentionStrategy ?? (backendName === 'wasm' ? 'band' : 'batched')) : 'batched',
    };
    const maxAllocationBytes = tuning.maxAllocationBytes ?? (backendName === 'wasm' ? 2 ** 31 : 2 ** 32);
    if (!(maxAllocationBytes > 0)) {
      throw new InvalidArgumentError(
        `TfjsBackend: maxAllocationBytes must be a positive number of bytes, got ${String(maxAllocationBytes)}.`,
      );
    }
    this.maxAllocationBytes = maxAllocationBytes;
    this.backendName = backendName;
    this.name = `tfjs-${backendName}`;
    const heap = wasmHeapOf(tf, backendName);
    this.kernelFeatures =
      heap.heap !== undefined ? { hostReads: heap.hostReads } : { hostReads: heap.hostReads, hostReadsReason: heap.reason };
    if (this.canReadSync) {
      this.readSync = (storage: TfjsStorage, dtype: DType, size: number): TypedArray => convert(storage.dataSync(), dtype, size);
    }
  }

  // ---- accounting ----

  private track(t: TfjsStorage): TfjsStorage {
    if (this.live.has(t)) return t;
    this.tf.keep(t);
    this.live.add(t);
    this.liveBytes += 4 * t.size;
    if (this.liveBytes > this.peakBytes) this.peakBytes = this.liveBytes;
    return t;
  }

  /** Wraps a tfjs result as a kernel tensor (casting to `dtype` if tfjs chose another). */
  private wrapResult(t: TfTensor, shape: Shape, dtype: DType): T {
    const tf = this.tf;
    let r = t;
    if (r.dtype !== dtype) {
      const c = tf.cast(r, dtype);
      if (!this.live.has(r)) r.dispose();
      r = c;
    }
    return { storage: this.track(r), shape: [...shape], dtype };
  }

  /** Wraps host values computed by a host kernel as a kernel tensor of `shape` and `dtype`. */
  private fromHost(values: HostArray, shape: Shape, dtype: DType): T {
    return this.wrapResult(this.tf.tensor(values, [...shape], dtype), shape, dtype);
  }

  /** The tfjs view of a kernel tensor with its logical shape (call inside `tf.tidy`). */
  private tfView(x: T): TfTensor {
    const s = x.storage;
    if (s.shape.length === x.shape.length && s.shape.every((d, i) => d === x.shape[i])) return s;
    return this.tf.reshape(s, [...x.shape]);
  }

  /**
   * The elements of a kernel tensor on the host (cpu and wasm only), row-major. Read from the storage
   * itself: a `tfView(x)` view created outside `tf.tidy` would be a tfjs tensor nobody disposes.
   */
  private hostValues(x: T): HostArray {
    return x.storage.dataSync() as HostArray;
  }

  /** Runs `fn` in `tf.tidy` and wraps its single result. */
  private runInTidy(shape: Shape, dtype: DType, fn: () => TfTensor): T {
    if (sizeOf(shape) === 0) return this.wrapResult(this.tf.zeros([...shape], dtype), shape, dtype);
    const r = this.tf.tidy(fn);
    return this.wrapResult(r.shape.length === shape.length ? r : this.reshapeOwned(r, shape), shape, dtype);
  }

  private reshapeOwned(r: TfTensor, shape: Shape): TfTensor {
    const s = this.tf.reshape(r, [...shape]);
    if (s !== r && !this.live.has(r)) r.dispose();
    return s;
  }

  /**
   * `t` broadcast to `shape`. float32 as `t · ones(shape)` (exact, keeps −0/NaN/±Infinity): tfjs-wasm's
   * float broadcast multiply is an XNNPACK kernel, its Tile (what `tf.broadcastTo` runs) a slow
   * per-element loop. Other dtypes use `tf.broadcastTo`.
   */
  private expand(t: TfTensor, shape: Shape): TfTensor {
    if (t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i])) return t;
    if (this.movesDataOnHost && sizeOf(shape) > 0) {
      // A host copy of runs (cpu, wasm): `t · ones(shape)` would build and upload the ones first.
      const src = t.dataSync() as HostArray;
      const out = t.dtype === 'int32' ? new Int32Array(sizeOf(shape)) : new Float32Array(sizeOf(shape));
      broadcastHost(src, t.shape, shape, out);
      return this.tf.tensor(out, [...shape], t.dtype);
    }
    if (t.dtype === 'float32') return this.tf.mul(t, this.tf.ones([...shape]));
    return this.tf.broadcastTo(t, [...shape]);
  }

  /** `t` with `shape` (itself when it has it: a tfjs reshape is a new handle, counted again in tf.memory()). */
  private shaped(t: TfTensor, shape: Shape): TfTensor {
    if (t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i])) return t;
    return this.tf.reshape(t, [...shape]);
  }

  /**
   * Whether data movement (gather, scatter-add, the band attention's blocks) is done on the host:
   * on tfjs `cpu` and `wasm` tensors live in host memory and `dataSync` is a copy, while their Gather,
   * ScatterNd, Transpose and Tile kernels compute an index per element (measured costs:
   * docs/results/backend-tfjs.md).
   */
  private get movesDataOnHost(): boolean {
    return this.backendName === 'wasm' || this.backendName === 'cpu';
  }

  // ---- storage ----

  /** Copies host values into a new tfjs tensor of `dtype` (float → int truncates). */
  write(values: TypedArray, dtype: DType): TfjsStorage {
    let data: Float32Array | Int32Array;
    if (dtype === 'int32') data = values instanceof Int32Array ? values.slice() : Int32Array.from(values, Math.trunc);
    else data = values instanceof Float32Array ? values.slice() : Float32Array.from(values);
    return this.track(this.tf.tensor1d(data, dtype));
  }

  /** Reads through `await t.data()` (works on every tfjs backend). */
  async read(storage: TfjsStorage, dtype: DType, size: number): Promise<TypedArray> {
    const data = await storage.data();
    return convert(data, dtype, size);
  }

  /** Disposes the tfjs tensor (a repeated free is ignored). */
  free(storage: TfjsStorage): void {
    if (!this.live.delete(storage)) return;
    this.liveBytes -= 4 * storage.size;
    storage.dispose();
  }

  /** Exact live/peak bytes of this backend's storages; `tfjsBytes`/`tfjsTensors` are tfjs's own `tf.memory()`. */
  memory(): BackendMemory {
    const m = this.tf.memory();
    return {
      liveBytes: this.liveBytes,
      peakBytes: this.peakBytes,
      liveBuffers: this.live.size,
      tfjsBytes: m.numBytes,
      tfjsTensors: m.numTensors,
    };
  }

  resetPeak(): void {
    this.peakBytes = this.liveBytes;
  }

  /**
   * Waits until every kernel queued so far has finished, as the Backend contract requires. The cpu,
   * wasm and tensorflow tfjs backends finish each kernel before it returns, so there is nothing to
   * wait for. The GPU ones (webgl, webgpu) queue their programs, and `tf.ready()` does not wait for
   * them: there a one-element tensor is filled on the device and read back, and a readback completes
   * only after the work queued before it (a WebGL fence, WebGPU's in-order queue).
   */
  async sync(): Promise<void> {
    await this.tf.ready();
    if (this.canReadSync) return;
    const probe = this.tf.fill([1], 0, 'float32');
    try {
      await probe.data();
    } finally {
      probe.dispose();
    }
  }

  /** Disposes every storage still live on this instance. */
  dispose(): void {
    for (const s of this.live) s.dispose();
    this.live.clear();
    this.liveBytes = 0;
  }

  // ---- interop ----

  /**
   * Wraps a tfjs tensor as storage without copying: a `tf.reshape` handle shares the data buffer (on
   * wasm `tf.clone` copies, `reshape` does not).
   */
  adopt(t: TfTensor): { storage: TfjsStorage; shape: Shape; dtype: DType } {
    if (t.dtype !== 'float32' && t.dtype !== 'int32') {
      throw new InvalidArgumentError(`fromTf: dtype '${t.dtype}' is not supported; use float32 or int32.`);
    }
    return { storage: this.track(this.shareHandle(t, t.shape)), shape: [...t.shape], dtype: t.dtype };
  }

  /** A new tfjs handle (sharing data, no copy) on `storage` with `shape`; the caller owns and disposes it. */
  export(storage: TfjsStorage, shape: Shape): TfTensor {
    return this.shareHandle(storage, shape);
  }

  /** A new tensor object on the same tfjs data buffer (reference-counted by tfjs). */
  private shareHandle(t: TfTensor, shape: Shape): TfTensor {
    const r = this.tf.reshape(t, [...shape]);
    return r === t ? this.tf.clone(t) : r;
  }

  // ---- element-wise ----

  fill(shape: Shape, value: number, dtype: DType): T {
    const v = dtype === 'int32' ? Math.trunc(value) : value;
    return this.wrapResult(this.tf.fill([...shape], v, dtype), shape, dtype);
  }

  unary(op: UnaryOp, x: T): T {
    return this.runInTidy(x.shape, x.dtype, () => unaryOp(this.tf, op, this.tfView(x), x.dtype));
  }

  binary(op: BinaryOp, a: T, b: T, outShape: Shape): T {
    const compare = isCompareOp(op);
    const dtype: DType = compare ? 'int32' : a.dtype;
    if (this.movesDataOnHost && a.dtype === 'int32' && sizeOf(outShape) > 0) {
      const out = hostIntBinary(op, this.hostValues(a) as Int32Array, a.shape, this.hostValues(b) as Int32Array, b.shape, outShape);
      return this.fromHost(out, outShape, 'int32');
    }
    return this.runInTidy(outShape, dtype, () => this.expand(binaryOp(this.tf, op, this.tfView(a), this.tfView(b), a.dtype), outShape));
  }

  where(cond: T, a: T, b: T, outShape: Shape): T {
    const tf = this.tf;
    return this.runInTidy(outShape, a.dtype, () => {
      const s = [...outShape];
      const c = tf.broadcastTo(tf.notEqual(this.tfView(cond), 0), s);
      return tf.where(c, this.expand(this.tfView(a), s), this.expand(this.tfView(b), s));
    });
  }

  cast(x: T, dtype: DType): T {
    return this.runInTidy(x.shape, dtype, () => castOp(this.tf, this.tfView(x), x.dtype, dtype));
  }

  // ---- reductions ----

  reduce(op: ReduceOp, x: T, axes: readonly number[]): T {
    const shape = x.shape.filter((_, i) => !axes.includes(i));
    if (this.movesDataOnHost && axes.length > 0 && sizeOf(shape) > 0) {
      const out = hostReduce(op, x.shape, x.dtype, axes, () => this.hostValues(x));
      if (out !== undefined) return this.fromHost(out, shape, x.dtype);
    }
    return this.runInTidy(shape, x.dtype, () => reduceOp(this.tf, op, this.tfView(x), x.shape, x.dtype, axes, shape));
  }

  argMax(x: T, axis: number): T {
    const shape = x.shape.filter((_, i) => i !== axis);
    if (this.movesDataOnHost && sizeOf(shape) > 0 && x.shape[axis]! > 0) {
      return this.fromHost(hostArgMax(this.hostValues(x), x.shape, axis), shape, 'int32');
    }
    return this.runInTidy(shape, 'int32', () => argMaxOp(this.tf, this.tfView(x), x.shape, x.dtype, axis));
  }

  argSort(x: T): T {
    const n = x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1]!;
    if (sizeOf(x.shape) === 0) return this.wrapResult(this.tf.zeros([...x.shape], 'int32'), x.shape, 'int32');
    if ((n > MAX_DEVICE_SORT && this.canReadSync) || (this.movesDataOnHost && x.dtype === 'int32')) {
      // Stable argsort on the host (rows longer than the device composite key allows, int32 rows).
      return this.fromHost(hostArgSort(this.hostValues(x), sizeOf(x.shape), n), x.shape, 'int32');
    }
    return this.runInTidy(x.shape, 'int32', () => argSortOp(this.tf, this.tfView(x), x.shape, n));
  }

  // ---- matmul ----

  matmul(a: T, b: T, transposeA: boolean, transposeB: boolean, outShape: Shape): T {
    const tf = this.tf;
    const K = transposeA ? a.shape[a.shape.length - 2]! : a.shape[a.shape.length - 1]!;
    if (K === 0) return this.wrapResult(tf.zeros([...outShape]), outShape, 'float32');
    return this.runInTidy(outShape, 'float32', () => {
      const rank = outShape.length;
      const batch = outShape.slice(0, rank - 2);
      const x = this.expand(this.tfView(a), [...batch, ...a.shape.slice(-2)]);
      const y = this.expand(this.tfView(b), [...batch, ...b.shape.slice(-2)]);
      return tf.matMul(x, y, transposeA, transposeB);
    });
  }

  // ---- layout ----

  transpose(x: T, perm: readonly number[]): T {
    const shape = perm.map((p) => x.shape[p]!);
    return this.runInTidy(shape, x.dtype, () => this.tf.transpose(this.tfView(x), [...perm]));
  }

  slice(x: T, begin: readonly number[], size: readonly number[]): T {
    if (this.movesDataOnHost && sizeOf(size) > 0)
      return this.fromHost(hostSlice(this.hostValues(x), x.shape, x.dtype, begin, size), size, x.dtype);
    return this.runInTidy(size, x.dtype, () => this.tf.slice(this.tfView(x), [...begin], [...size]));
  }

  concat(xs: readonly T[], axis: number): T {
    const first = xs[0]!;
    const shape = [...first.shape];
    shape[axis] = xs.reduce((s, x) => s + x.shape[axis]!, 0);
    if (this.movesDataOnHost && sizeOf(shape) > 0) {
      return this.fromHost(
        hostConcat(xs, axis, shape, first.dtype, (x) => this.hostValues(x)),
        shape,
        first.dtype,
      );
    }
    return this.runInTidy(shape, first.dtype, () => {
      const parts = xs.filter((x) => sizeOf(x.shape) > 0).map((x) => this.tfView(x));
      return parts.length === 1 ? this.tf.clone(parts[0]!) : this.tf.concat(parts, axis);
    });
  }

  pad(x: T, paddings: readonly (readonly [number, number])[], value: number): T {
    const shape = x.shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]);
    const v = x.dtype === 'int32' ? Math.trunc(value) : value;
    if (sizeOf(x.shape) === 0) return this.wrapResult(this.tf.fill(shape, v, x.dtype), shape, x.dtype);
    return this.runInTidy(shape, x.dtype, () =>
      this.tf.pad(
        this.tfView(x),
        paddings.map(([a, b]) => [a, b] as [number, number]),
        v,
      ),
    );
  }

  /** Throws InvalidArgumentError if an index is outside [0, size) (only where a sync read is possible). */
  private checkIndices(op: string, indices: T, size: number, axis: number): Int32Array | undefined {
    if (!this.canReadSync || sizeOf(indices.shape) === 0) return undefined;
    const data = this.hostValues(indices) as Int32Array;
    for (let i = 0; i < data.length; i++) {
      const j = data[i]!;
      if (j < 0 || j >= size) {
        throw new InvalidArgumentError(
          `${op}: index ${j} is out of range for axis ${axis} of size ${size}; indices must be in 0..${size - 1}.`,
        );
      }
    }
    return data;
  }

  gather(x: T, indices: T, axis: number): T {
    const n = indices.shape[indices.shape.length - 1]!;
    const shape = [...x.shape.slice(0, axis), n, ...x.shape.slice(axis + 1)];
    const checked = this.checkIndices('gather', indices, x.shape[axis]!, axis);
    const outer = sizeOf(x.shape.slice(0, axis));
    const inner = sizeOf(x.shape.slice(axis + 1));
    const A = x.shape[axis]!;
    if (this.movesDataOnHost && sizeOf(shape) > 0) {
      const src = this.hostValues(x);
      const idx = checked ?? (this.hostValues(indices) as Int32Array);
      return this.fromHost(hostGather(src, idx, x.dtype, outer, A, n, inner), shape, x.dtype);
    }
    return this.runInTidy(shape, x.dtype, () => gatherOp(this.tf, this.tfView(x), this.tfView(indices), outer, A, n, inner, shape));
  }

  scatterAdd(updates: T, indices: T, axis: number, size: number): T {
    const shape = [...updates.shape];
    shape[axis] = size;
    const checked = this.checkIndices('scatterAdd', indices, size, axis);
    const outer = sizeOf(updates.shape.slice(0, axis));
    const n = updates.shape[axis]!;
    const inner = sizeOf(updates.shape.slice(axis + 1));
    if (this.movesDataOnHost && sizeOf(shape) > 0) {
      const idx = n > 0 && inner > 0 ? (checked ?? (this.hostValues(indices) as Int32Array)) : undefined;
      const out = hostScatterAdd(idx, () => this.hostValues(updates), updates.dtype, outer, n, size, inner);
      return this.fromHost(out, shape, updates.dtype);
    }
    return this.runInTidy(shape, updates.dtype, () => {
      if (n === 0 || inner === 0) return this.tf.zeros(shape, updates.dtype);
      return scatterAddOp(this.tf, this.tfView(updates), this.tfView(indices), outer, n, inner, size, shape);
    });
  }

  // ---- fused kernels ----

  softmax(x: T): T {
    return this.runInTidy(x.shape, 'float32', () => softmaxOp(this.tf, this.tfView(x)));
  }

  logSumExp(x: T): T {
    const shape = x.shape.slice(0, -1);
    return this.runInTidy(shape, 'float32', () => this.tf.reshape(logSumExpOp(this.tf, this.tfView(x)), shape));
  }

  layerNorm(x: T, gamma: T, beta: T, eps: number): { y: T; mean: T; rstd: T } {
    const tf = this.tf;
    const stats = x.shape.slice(0, -1);
    if (sizeOf(x.shape) === 0) {
      return {
        y: this.wrapResult(tf.zeros([...x.shape]), x.shape, 'float32'),
        mean: this.wrapResult(tf.zeros(stats), stats, 'float32'),
        rstd: this.wrapResult(tf.zeros(stats), stats, 'float32'),
      };
    }
    const [y, mean, rstd] = tf.tidy(() => layerNormOp(tf, this.tfView(x), this.tfView(gamma), this.tfView(beta), eps, stats));
    return {
      y: this.wrapResult(y, x.shape, 'float32'),
      mean: this.wrapResult(mean, stats, 'float32'),
      rstd: this.wrapResult(rstd, stats, 'float32'),
    };
  }

  layerNormBackward(dy: T, x: T, gamma: T, mean: T, rstd: T): { dx: T; dGamma: T; dBeta: T } {
    const tf = this.tf;
    if (sizeOf(x.shape) === 0) {
      return {
        dx: this.wrapResult(tf.zeros([...x.shape]), x.shape, 'float32'),
        dGamma: this.wrapResult(tf.zeros([...gamma.shape]), gamma.shape, 'float32'),
        dBeta: this.wrapResult(tf.zeros([...gamma.shape]), gamma.shape, 'float32'),
      };
    }
    const [dx, dGamma, dBeta] = tf.tidy(() =>
      layerNormGrad(tf, this.tfView(dy), this.tfView(x), this.tfView(gamma), this.tfView(mean), this.tfView(rstd), x.shape),
    );
    return {
      dx: this.wrapResult(dx, x.shape, 'float32'),
      dGamma: this.wrapResult(this.reshapeOwned(dGamma, gamma.shape), gamma.shape, 'float32'),
      dBeta: this.wrapResult(this.reshapeOwned(dBeta, gamma.shape), gamma.shape, 'float32'),
    };
  }

  activationBackward(op: ActivationOp, x: T, dy: T): T {
    return this.runInTidy(x.shape, 'float32', () => activationGrad(this.tf, op, this.tfView(x), this.tfView(dy)));
  }

  private checkLabels(op: string, labels: T, V: number, ignoreIndex: number): void {
    if (!this.canReadSync) return;
    const data = labels.storage.dataSync();
    for (let i = 0; i < sizeOf(labels.shape); i++) {
      const t = data[i]!;
      if (t !== ignoreIndex && (t < 0 || t >= V)) {
        throw new InvalidArgumentError(
          `${op}: label ${t} of row ${i} is out of range for ${V} classes; labels must be in 0..${V - 1} or equal ignoreIndex (${ignoreIndex}).`,
        );
      }
    }
  }

  crossEntropy(logits: T, labels: T, ignoreIndex: number): { loss: T; lse: T } {
    const tf = this.tf;
    const [N, V] = logits.shape as [number, number];
    this.checkLabels('crossEntropy', labels, V, ignoreIndex);
    if (N === 0 || V === 0) {
      const fillLse = V === 0 ? -Infinity : 0;
      return { loss: this.wrapResult(tf.zeros([N]), [N], 'float32'), lse: this.wrapResult(tf.fill([N], fillLse), [N], 'float32') };
    }
    const [loss, lse] = tf.tidy(() => crossEntropyOp(tf, this.tfView(logits), this.tfView(labels), N, ignoreIndex));
    return { loss: this.wrapResult(loss, [N], 'float32'), lse: this.wrapResult(lse, [N], 'float32') };
  }

  crossEntropyBackward(logits: T, labels: T, lse: T, dLoss: T, ignoreIndex: number): T {
    const [N, V] = logits.shape as [number, number];
    this.checkLabels('crossEntropyBackward', labels, V, ignoreIndex);
    return this.runInTidy(logits.shape, 'float32', () =>
      crossEntropyGrad(this.tf, this.tfView(logits), this.tfView(labels), this.tfView(lse), this.tfView(dLoss), N, V, ignoreIndex),
    );
  }

  // ---- chunked attention ----

  private checkChunk(q: T, p: ChunkedAttentionParams<TfjsStorage>): void {
    checkDivisor('chunkedAttention', 'chunkLength', p.chunkLength, q.shape[2]!, 'the sequence length');
  }

  private attentionInputs(q: T, k: T, v: T, p: ChunkedAttentionParams<TfjsStorage>): AttentionInputs {
    const [B, H, N, d] = q.shape as [number, number, number, number];
    return {
      B,
      H,
      N,
      d,
      dv: v.shape[3]!,
      q: this.tfView(q),
      k: this.tfView(k),
      v: this.tfView(v),
      positions: p.positions !== undefined ? this.tfView(p.positions) : undefined,
      keyMask: p.keyMask !== undefined ? this.tfView(p.keyMask) : undefined,
      buckets: p.buckets !== undefined ? this.tfView(p.buckets) : undefined,
    };
  }

  /**
   * Chunk groups whose logits fit `attention.groupBytes`, each in its own `tf.tidy` (see attention.ts);
   * `band` 2-D matmuls on wasm, batched matmuls elsewhere.
   */
  chunkedAttention(q: T, k: T, v: T, params: ChunkedAttentionParams<TfjsStorage>): { out: T; lse: T } {
    const tf = this.tf;
    const [B, H, N] = q.shape as [number, number, number, number];
    const lseShape = [B, H, N];
    if (sizeOf(q.shape) === 0 || sizeOf(v.shape) === 0 || N === 0) {
      return {
        out: this.wrapResult(tf.zeros([...v.shape]), v.shape, 'float32'),
        lse: this.wrapResult(tf.zeros(lseShape), lseShape, 'float32'),
      };
    }
    this.checkChunk(q, params);
    const [out, lse] = tf.tidy(() => {
      const [o, l] = attentionForward(tf, params, this.attentionInputs(q, k, v, params), this.attention);
      return [this.shaped(o, v.shape), this.shaped(l, lseShape)];
    });
    return { out: this.wrapResult(out!, v.shape, 'float32'), lse: this.wrapResult(lse!, lseShape, 'float32') };
  }

  chunkedAttentionBackward(
    q: T,
    k: T,
    v: T,
    out: T,
    lse: T,
    dOut: T,
    dLse: T,
    params: ChunkedAttentionParams<TfjsStorage>,
  ): { dq: T; dk: T; dv: T } {
    const tf = this.tf;
    const N = q.shape[2]!;
    if (sizeOf(q.shape) === 0 || sizeOf(v.shape) === 0 || N === 0) {
      return {
        dq: this.wrapResult(tf.zeros([...q.shape]), q.shape, 'float32'),
        dk: this.wrapResult(tf.zeros([...k.shape]), k.shape, 'float32'),
        dv: this.wrapResult(tf.zeros([...v.shape]), v.shape, 'float32'),
      };
    }
    this.checkChunk(q, params);
    const [dq, dk, dvv] = tf.tidy(() => {
      const x = this.attentionInputs(q, k, v, params);
      const [a, b, c] = attentionBackward(
        tf,
        params,
        x,
        this.tfView(out),
        this.tfView(lse),
        this.tfView(dOut),
        this.tfView(dLse),
        this.attention,
      );
      return [this.shaped(a, q.shape), this.shaped(b, k.shape), this.shaped(c, v.shape)];
    });
    return {
      dq: this.wrapResult(dq!, q.shape, 'float32'),
      dk: this.wrapResult(dk!, k.shape, 'float32'),
      dv: this.wrapResult(dvv!, v.shape, 'float32'),
    };
  }
}
