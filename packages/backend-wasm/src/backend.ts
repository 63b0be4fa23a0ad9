/**
 * The wasm backend: tensors are ranges of one WebAssembly memory; the hot kernels run compiled
 * SIMD128 code (`assembly/`), the rest run the CPU reference's TypeScript kernels over typed-array views
 * of the same memory (one copy of their result into the heap).
 */
import {
  createCpuBackend,
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
import type { WasmKernelFeatures } from './features.js';

/** The storage of the CPU reference backend. */
type CpuStorage = Float32Array | Int32Array;
import type { WasmHeap, WasmStorage } from './heap.js';
import type { WasmKernelExports } from './kernels.js';
import { attentionBackward, attentionForward } from './attention.js';
import {
  argMaxRows,
  signedArgMaxBlocks,
  binaryBroadcast,
  gatherRows,
  reduceSumRows,
  scatterAddRows,
  unaryFloat,
  indicesInRange,
  reductionBlock,
  span,
  WASM_BINARY_OPS,
  WASM_INT_BINARY_OPS,
  WASM_UNARY_OPS,
} from './elementwise.js';
import { bitsOf, contiguous, copyBox } from './layout.js';
import { batchedMatmul } from './matmul.js';
import type { KernelRunner } from './pool.js';

/** A kernel tensor of the wasm backend. */
type T = KernelTensor<WasmStorage>;
/** A kernel tensor of the CPU reference (a view of the wasm memory or a fresh host array). */
type C = KernelTensor<CpuStorage>;

/** Length of the last axis (1 for a scalar). */
function lastAxis(shape: Shape): number {
  return shape.length === 0 ? 1 : shape[shape.length - 1]!;
}

/** The product of a shape. */
function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * The `Backend` contract on WebAssembly SIMD kernels. Create it with `createWasmBackend` (from
 * `@reformer/backend-wasm`, or `@reformer/backend-wasm/node` in Node).
 */
export class WasmBackend implements Backend<WasmStorage> {
  /** Always `'wasm'`. */
  readonly name = 'wasm';
  /** Which kernel build runs (relaxed SIMD or plain SIMD) and with how many threads. */
  readonly kernelFeatures: WasmKernelFeatures;
  /** `chunkedAttention` reads q, k, v by position (an LSH sort makes no sorted copies). */
  readonly attentionByPosition = true;
  /**
   * The most bytes one allocation may take: the memory's limit (`maxMemoryBytes`, at most the 4 GiB of
   * wasm32). Core checks sizes that come from user input against it before allocating.
   */
  readonly maxAllocationBytes: number;
  /** The one memory tensors live in. */
  readonly heap: WasmHeap;
  private readonly kernels: WasmKernelExports;
  /** Runs the hot kernels' tasks on the worker threads (or inline with one thread). */
  private readonly runner: KernelRunner;
  /** The CPU reference, for the kernels that have no wasm version yet. */
  private readonly reference = createCpuBackend();

  /** @internal Use `createWasmBackend`. */
  constructor(kernels: WasmKernelExports, heap: WasmHeap, features: WasmKernelFeatures, runner: KernelRunner) {
    this.kernels = kernels;
    this.runner = runner;
    this.heap = heap;
    this.kernelFeatures = features;
    this.maxAllocationBytes = heap.limitBytes;
  }

  // ---- helpers ----

  /** New storage of `shape` wrapped as a kernel tensor. */
  private alloc(shape: Shape, dtype: DType): T {
    return { storage: this.heap.alloc(sizeOf(shape)), shape: [...shape], dtype };
  }

  /** A view of a tensor for the CPU reference kernels (valid until the next allocation). */
  private cpu(t: T): C {
    return { storage: this.heap.view(t.storage, t.dtype), shape: t.shape, dtype: t.dtype };
  }

  /**
   * Runs `kernel`, which writes `outputs` (allocated by the caller), and returns them; when it throws
   * (a `WasmWorkerError`, a `WasmMemoryLimitError` of its scratch) the outputs are released first.
   */
  private compute<R extends T | readonly T[]>(outputs: R, kernel: () => void): R {
    try {
      kernel();
    } catch (e) {
      for (const t of Array.isArray(outputs) ? (outputs as readonly T[]) : [outputs as T]) this.heap.free(t.storage);
      throw e;
    }
    return outputs;
  }

  /** Copies a CPU reference result into the heap and releases the host array. */
  private adopt(r: C): T {
    const out = this.alloc(r.shape, r.dtype);
    this.heap.view(out.storage, r.dtype).set(r.storage);
    this.reference.free(r.storage);
    return out;
  }

  // ---- storage ----

  /** Copies `values` into new storage (float → int truncates toward zero). */
  write(values: TypedArray, dtype: DType): WasmStorage {
    const s = this.heap.alloc(values.length);
    const view = this.heap.view(s, dtype);
    if (dtype === 'int32' && values instanceof Float32Array) {
      for (let i = 0; i < values.length; i++) view[i] = Math.trunc(values[i]!);
    } else {
      view.set(values);
    }
    return s;
  }

  /** A fresh host copy of the first `size` values. */
  read(storage: WasmStorage, dtype: DType, size: number): Promise<TypedArray> {
    return Promise.resolve(this.readSync(storage, dtype, size));
  }

  /** A fresh host copy of the first `size` values, synchronously. */
  readSync(storage: WasmStorage, dtype: DType, size: number): TypedArray {
    const n = Math.min(size, storage.length);
    return dtype === 'int32' ? this.heap.i32(storage.ptr, n).slice() : this.heap.f32(storage.ptr, n).slice();
  }

  /** Releases storage (a repeated free is ignored). */
  free(storage: WasmStorage): void {
    this.heap.free(storage);
  }

  /** Exact live and peak bytes of tensor storage, plus the wasm memory size, scratch and free bytes. */
  memory(): BackendMemory {
    return this.heap.memoryInfo();
  }

  /** Sets `peakBytes` to the current `liveBytes`. */
  resetPeak(): void {
    this.heap.resetPeak();
  }

  /** Resolves at once: the kernels run synchronously. */
  sync(): Promise<void> {
    return Promise.resolve();
  }

  /** Terminates the worker threads and drops the backend's references; its memory is garbage-collected with it. */
  dispose(): void {
    this.runner.close();
  }

  // ---- element-wise ----

  fill(shape: Shape, value: number, dtype: DType): T {
    const out = this.alloc(shape, dtype);
    this.heap.view(out.storage, dtype).fill(dtype === 'int32' ? Math.trunc(value) : value);
    return out;
  }

  /** `op(x)`: float32 neg/abs/sqrt/square/reciprocal/floor/ceil/round/relu in SIMD, the rest on the reference. */
  unary(op: UnaryOp, x: T): T {
    const code = x.dtype === 'float32' ? WASM_UNARY_OPS.get(op) : undefined;
    if (code !== undefined) {
      const out = this.alloc(x.shape, 'float32');
      return this.compute(out, () => {
        if (out.storage.length > 0) unaryFloat(this.kernels, this.runner, code, x.storage.ptr, out.storage.ptr, out.storage.length);
      });
    }
    return this.adopt(this.reference.unary(op, this.cpu(x)));
  }

  /** `a op b` with broadcasting: float32 add/sub/mul/div/maximum/minimum and int32 add/sub/mul/maximum/minimum in SIMD, int32 floor division and modulo in wasm, the rest on the reference. */
  binary(op: BinaryOp, a: T, b: T, outShape: Shape): T {
    const code = (a.dtype === 'float32' ? WASM_BINARY_OPS : WASM_INT_BINARY_OPS).get(op);
    if (code !== undefined && a.dtype === b.dtype) {
      const out = this.alloc(outShape, a.dtype);
      return this.compute(out, () =>
        binaryBroadcast(this.kernels, this.runner, code, a.storage, a.shape, b.storage, b.shape, out.storage, outShape),
      );
    }
    return this.adopt(this.reference.binary(op, this.cpu(a), this.cpu(b), outShape));
  }

  where(cond: T, a: T, b: T, outShape: Shape): T {
    return this.adopt(this.reference.where(this.cpu(cond), this.cpu(a), this.cpu(b), outShape));
  }

  cast(x: T, dtype: DType): T {
    return this.adopt(this.reference.cast(this.cpu(x), dtype));
  }

  // ---- reductions ----

  /** Float32 sums over one run of consecutive axes in wasm (doubles, the reference's order); the rest on the reference. */
  reduce(op: ReduceOp, x: T, axes: readonly number[]): T {
    const block = op === 'sum' && x.dtype === 'float32' ? reductionBlock(x.shape, axes) : undefined;
    if (block !== undefined) {
      const [outer, r, inner] = block;
      const out = this.alloc(
        x.shape.filter((_, i) => !axes.includes(i)),
        'float32',
      );
      return this.compute(out, () => {
        if (out.storage.length > 0) reduceSumRows(this.kernels, this.runner, this.heap, x.storage.ptr, out.storage.ptr, outer, r, inner);
      });
    }
    return this.adopt(this.reference.reduce(op, this.cpu(x), axes));
  }

  /** The first maximum of `[x, −x]` along the last axis (float32 `x`), without making `[x, −x]`. */
  signedArgMax(x: T): T {
    const len = lastAxis(x.shape);
    const out = this.alloc(x.shape.slice(0, -1), 'int32');
    return this.compute(out, () => {
      if (out.storage.length > 0) signedArgMaxBlocks(this.kernels, this.runner, x.storage.ptr, out.storage.ptr, out.storage.length, len);
    });
  }

  /** Index of the first maximum along `axis` (float32 in wasm; NaN never counts as greater). */
  argMax(x: T, axis: number): T {
    if (x.dtype === 'float32') {
      const out = this.alloc(
        x.shape.filter((_, i) => i !== axis),
        'int32',
      );
      const inner = span(x.shape, axis + 1, x.shape.length);
      return this.compute(out, () => {
        if (out.storage.length > 0) {
          argMaxRows(this.kernels, this.runner, this.heap, x.storage.ptr, out.storage.ptr, span(x.shape, 0, axis), x.shape[axis]!, inner);
        }
      });
    }
    return this.adopt(this.reference.argMax(this.cpu(x), axis));
  }

  /** Stable ascending argsort along the last axis: LSD radix sort in wasm (NaN last, −0 equal to +0). */
  argSort(x: T): T {
    const out = this.alloc(x.shape, 'int32');
    const n = lastAxis(x.shape);
    if (out.storage.length > 0 && n > 0) {
      const scratch = this.heap.scratch(this.kernels.argSortScratchBytes(n));
      this.kernels.argSortRows(x.storage.ptr, out.storage.ptr, out.storage.length / n, n, x.dtype === 'float32', scratch);
    }
    return out;
  }

  // ---- matmul ----

  /** Batched matmul on the packed SIMD GEMM (any transpose flags, broadcast batch axes). */
  matmul(a: T, b: T, transposeA: boolean, transposeB: boolean, outShape: Shape): T {
    const out = this.alloc(outShape, 'float32');
    return this.compute(out, () =>
      batchedMatmul(this.kernels, this.runner, a.storage, a.shape, b.storage, b.shape, transposeA, transposeB, out.storage, outShape),
    );
  }

  // ---- layout ----

  /** Copies the box `shape` from `src` (strides `from`) to `dst` (strides `to`), byte offsets into the memory. */
  private copy(src: number, dst: number, shape: Shape, from: readonly number[], to: readonly number[]): void {
    copyBox(this.kernels, this.runner, this.heap, src, dst, shape, from, to);
  }

  /** Permutes axes: a strided copy in wasm. */
  transpose(x: T, perm: readonly number[]): T {
    const shape = perm.map((p) => x.shape[p]!);
    const out = this.alloc(shape, x.dtype);
    const strides = contiguous(x.shape);
    return this.compute(out, () =>
      this.copy(
        x.storage.ptr,
        out.storage.ptr,
        shape,
        perm.map((p) => strides[p]!),
        contiguous(shape),
      ),
    );
  }

  /** The box `begin .. begin + size`: a strided copy in wasm. */
  slice(x: T, begin: readonly number[], size: readonly number[]): T {
    const out = this.alloc(size, x.dtype);
    const strides = contiguous(x.shape);
    const offset = begin.reduce((o, b, i) => o + b * strides[i]!, 0);
    return this.compute(out, () => this.copy(x.storage.ptr + 4 * offset, out.storage.ptr, size, strides, contiguous(size)));
  }

  /** Joins tensors along `axis`: one strided copy per input. */
  concat(xs: readonly T[], axis: number): T {
    const first = xs[0]!;
    const shape = [...first.shape];
    shape[axis] = xs.reduce((s, x) => s + x.shape[axis]!, 0);
    const out = this.alloc(shape, first.dtype);
    const outStrides = contiguous(shape);
    return this.compute(out, () => {
      let at = 0;
      for (const x of xs) {
        this.copy(x.storage.ptr, out.storage.ptr + 4 * at * outStrides[axis]!, x.shape, contiguous(x.shape), outStrides);
        at += x.shape[axis]!;
      }
    });
  }

  /** Pads every axis: a fill, then a strided copy of `x` into the interior. */
  pad(x: T, paddings: readonly (readonly [number, number])[], value: number): T {
    const shape = x.shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]);
    const out = this.alloc(shape, x.dtype);
    if (out.storage.length > 0) this.kernels.fill32(out.storage.ptr, bitsOf(value, x.dtype), out.storage.length);
    const outStrides = contiguous(shape);
    const offset = paddings.reduce((o, p, i) => o + p[0] * outStrides[i]!, 0);
    return this.compute(out, () => this.copy(x.storage.ptr, out.storage.ptr + 4 * offset, x.shape, contiguous(x.shape), outStrides));
  }

  /** Batched gather along `axis` (block copies in wasm, split over the threads; a bad index gets the reference's error). */
  gather(x: T, indices: T, axis: number): T {
    const size = x.shape[axis]!;
    const n = indices.shape[indices.shape.length - 1]!;
    const outer = span(x.shape, 0, axis);
    if (indices.storage.length === outer * n && indicesInRange(this.heap, indices.storage, size)) {
      const out = this.alloc([...x.shape.slice(0, axis), n, ...x.shape.slice(axis + 1)], x.dtype);
      const inner = span(x.shape, axis + 1, x.shape.length);
      return this.compute(out, () => {
        if (out.storage.length > 0)
          gatherRows(this.kernels, this.runner, x.storage.ptr, indices.storage.ptr, out.storage.ptr, outer, size, n, inner);
      });
    }
    return this.adopt(this.reference.gather(this.cpu(x), this.cpu(indices), axis));
  }

  /** The adjoint of `gather` (float32: summed in doubles in wasm, identical to the reference). */
  scatterAdd(updates: T, indices: T, axis: number, size: number): T {
    const n = updates.shape[axis]!;
    const outer = span(updates.shape, 0, axis);
    if (updates.dtype === 'float32' && indices.storage.length === outer * n && indicesInRange(this.heap, indices.storage, size)) {
      const shape = [...updates.shape];
      shape[axis] = size;
      const out = this.alloc(shape, 'float32');
      return this.compute(out, () => {
        if (out.storage.length === 0) return;
        const inner = span(updates.shape, axis + 1, updates.shape.length);
        const acc = this.heap.scratch(8 * out.storage.length);
        scatterAddRows(this.kernels, this.runner, updates.storage.ptr, indices.storage.ptr, out.storage.ptr, acc, outer, n, size, inner);
        this.heap.trimScratch();
      });
    }
    return this.adopt(this.reference.scatterAdd(this.cpu(updates), this.cpu(indices), axis, size));
  }

  // ---- fused kernels ----

  /** Softmax over the last axis (SIMD rows; a row of all −∞ gives zeros). */
  softmax(x: T): T {
    const out = this.alloc(x.shape, 'float32');
    const n = lastAxis(x.shape);
    if (out.storage.length > 0 && n > 0) this.kernels.softmaxRows(x.storage.ptr, out.storage.ptr, out.storage.length / n, n);
    return out;
  }

  /** `log Σ exp` over the last axis (SIMD rows; −∞, +∞ and NaN rows give that value). */
  logSumExp(x: T): T {
    const out = this.alloc(x.shape.slice(0, -1), 'float32');
    if (out.storage.length > 0) this.kernels.logSumExpRows(x.storage.ptr, out.storage.ptr, out.storage.length, lastAxis(x.shape));
    return out;
  }

  /** Layer norm over the last axis (SIMD rows), with `mean` and `rstd` for the backward. */
  layerNorm(x: T, gamma: T, beta: T, eps: number): { y: T; mean: T; rstd: T } {
    const stats = x.shape.slice(0, -1);
    const y = this.alloc(x.shape, 'float32');
    const mean = this.alloc(stats, 'float32');
    const rstd = this.alloc(stats, 'float32');
    const n = lastAxis(x.shape);
    if (n > 0 && mean.storage.length > 0) {
      this.kernels.layerNormRows(
        x.storage.ptr,
        gamma.storage.ptr,
        beta.storage.ptr,
        y.storage.ptr,
        mean.storage.ptr,
        rstd.storage.ptr,
        mean.storage.length,
        n,
        eps,
      );
    }
    return { y, mean, rstd };
  }

  /** Gradients of `layerNorm` (SIMD rows; dGamma and dBeta summed over rows in doubles). */
  layerNormBackward(dy: T, x: T, gamma: T, mean: T, rstd: T): { dx: T; dGamma: T; dBeta: T } {
    const n = lastAxis(x.shape);
    const dx = this.alloc(x.shape, 'float32');
    const dGamma = this.alloc(gamma.shape, 'float32');
    const dBeta = this.alloc(gamma.shape, 'float32');
    const rows = n === 0 ? 0 : dx.storage.length / n;
    if (n > 0) {
      const acc = this.heap.scratch(16 * n);
      this.kernels.layerNormBackwardRows(
        dy.storage.ptr,
        x.storage.ptr,
        gamma.storage.ptr,
        mean.storage.ptr,
        rstd.storage.ptr,
        dx.storage.ptr,
        dGamma.storage.ptr,
        dBeta.storage.ptr,
        rows,
        n,
        acc,
      );
    }
    return { dx, dGamma, dBeta };
  }

  /** `dy · f'(x)`: relu in SIMD, gelu on the reference. */
  activationBackward(op: ActivationOp, x: T, dy: T): T {
    if (op === 'relu') {
      const out = this.alloc(x.shape, 'float32');
      if (out.storage.length > 0) this.kernels.reluBackward(x.storage.ptr, dy.storage.ptr, out.storage.ptr, out.storage.length);
      return out;
    }
    return this.adopt(this.reference.activationBackward(op, this.cpu(x), this.cpu(dy)));
  }

  /** Cross-entropy of logits `[N, V]` per row (SIMD rows; a label out of range gets the reference's error). */
  crossEntropy(logits: T, labels: T, ignoreIndex: number): { loss: T; lse: T } {
    const V = lastAxis(logits.shape);
    if (!indicesInRange(this.heap, labels.storage, V, ignoreIndex)) {
      const r = this.reference.crossEntropy(this.cpu(logits), this.cpu(labels), ignoreIndex);
      return { loss: this.adopt(r.loss), lse: this.adopt(r.lse) };
    }
    const rows = labels.storage.length;
    const loss = this.alloc([rows], 'float32');
    const lse = this.alloc([rows], 'float32');
    if (rows > 0) {
      this.kernels.crossEntropyRows(logits.storage.ptr, labels.storage.ptr, loss.storage.ptr, lse.storage.ptr, rows, V, ignoreIndex);
    }
    return { loss, lse };
  }

  /** Gradient of `crossEntropy` with respect to the logits (SIMD rows). */
  crossEntropyBackward(logits: T, labels: T, lse: T, dLoss: T, ignoreIndex: number): T {
    const V = lastAxis(logits.shape);
    if (!indicesInRange(this.heap, labels.storage, V, ignoreIndex)) {
      return this.adopt(
        this.reference.crossEntropyBackward(this.cpu(logits), this.cpu(labels), this.cpu(lse), this.cpu(dLoss), ignoreIndex),
      );
    }
    const out = this.alloc(logits.shape, 'float32');
    const rows = labels.storage.length;
    if (rows > 0 && V > 0) {
      this.kernels.crossEntropyBackwardRows(
        logits.storage.ptr,
        labels.storage.ptr,
        lse.storage.ptr,
        dLoss.storage.ptr,
        out.storage.ptr,
        rows,
        V,
        ignoreIndex,
      );
    }
    return out;
  }

  /** Fused chunked attention on SIMD tiles: one query chunk × its key window at a time. */
  chunkedAttention(q: T, k: T, v: T, params: ChunkedAttentionParams<WasmStorage>): { out: T; lse: T } {
    if (params.byPosition === true && hasDropout(params)) {
      // the reference's dropout path reads slots: gather the rows into slot order first
      const slots = [q, k, v].map((x) => this.gather(x, params.positions!, 2));
      try {
        return this.chunkedAttention(slots[0]!, slots[1]!, slots[2]!, { ...params, byPosition: false });
      } finally {
        for (const x of slots) this.free(x.storage);
      }
    }
    if (hasDropout(params)) {
      const r = this.reference.chunkedAttention(this.cpu(q), this.cpu(k), this.cpu(v), this.cpuParams(params));
      return { out: this.adopt(r.out), lse: this.adopt(r.lse) };
    }
    // one output row per slot: by position, the slots are the positions'
    const slots = params.byPosition === true ? params.positions!.shape : q.shape.slice(0, 3);
    const out = this.alloc([...slots, v.shape[3]!], 'float32');
    const lse = this.alloc(slots, 'float32');
    this.compute([out, lse], () => attentionForward(this.kernels, this.heap, this.runner, q, k, v, out, lse, params));
    return { out, lse };
  }

  /** Backward of `chunkedAttention`, recomputing the logits chunk pair by chunk pair. */
  chunkedAttentionBackward(
    q: T,
    k: T,
    v: T,
    out: T,
    lse: T,
    dOut: T,
    dLse: T,
    params: ChunkedAttentionParams<WasmStorage>,
  ): { dq: T; dk: T; dv: T } {
    if (hasDropout(params)) {
      const r = this.reference.chunkedAttentionBackward(
        this.cpu(q),
        this.cpu(k),
        this.cpu(v),
        this.cpu(out),
        this.cpu(lse),
        this.cpu(dOut),
        this.cpu(dLse),
        this.cpuParams(params),
      );
      return { dq: this.adopt(r.dq), dk: this.adopt(r.dk), dv: this.adopt(r.dv) };
    }
    const dq = this.alloc(q.shape, 'float32');
    const dk = this.alloc(k.shape, 'float32');
    const dv = this.alloc(v.shape, 'float32');
    this.compute([dq, dk, dv], () =>
      attentionBackward(this.kernels, this.heap, this.runner, q, k, v, out, lse, dOut, dLse, dq, dk, dv, params),
    );
    return { dq, dk, dv };
  }

  /** The attention params with views for the CPU reference (the dropout path). */
  private cpuParams(p: ChunkedAttentionParams<WasmStorage>): ChunkedAttentionParams<CpuStorage> {
    const view = (t: T | undefined): C | undefined => (t === undefined ? undefined : this.cpu(t));
    return { ...p, positions: view(p.positions), keyMask: view(p.keyMask), buckets: view(p.buckets) };
  }
}

/**
 * Whether the call asks for dropout on the attention probabilities: the fused SIMD kernel does not
 * draw dropout masks yet, so those calls run the CPU reference's kernel over views of the memory.
 */
function hasDropout(p: ChunkedAttentionParams<WasmStorage>): boolean {
  return 'dropout' in p && p.dropout !== undefined && p.dropout !== null;
}
