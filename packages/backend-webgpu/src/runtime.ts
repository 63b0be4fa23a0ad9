/**
 * The command stream of the backend: kernels are recorded as dispatches and encoded together, in one
 * command encoder and one compute pass per flush, with all their parameters in one uniform buffer.
 * A flush happens before every readback and when the queue reaches {@link MAX_PENDING} dispatches.
 *
 * Buffer lifetime: a buffer freed while recorded dispatches may still use it goes back to the pool
 * only after the flush that submits them, so a later `queue.writeBuffer` into a recycled buffer can
 * never overtake a pending read of it.
 *
 * Errors: every flush runs inside `validation` and `out-of-memory` error scopes, and `device.lost` is
 * watched; a failure is stored and thrown as a named error by the next call into the backend (and by
 * the pending readback), never turned into silent wrong results. Index checks of gather/scatterAdd
 * and label checks of crossEntropy write the first bad value to a small error buffer that every
 * readback copies along with the data; a set flag throws `InvalidArgumentError` from that readback.
 */
import { InvalidArgumentError, type ReformerError } from '@reformer/core';
import { BufferPool, GPU_BUFFER_USAGE, MAP_READ, READBACK_USAGE } from './buffers.js';
import { WebGPUDeviceLostError, WebGPUOutOfMemoryError, WebGPUValidationError } from './errors.js';
import { MAX_PARAM_VEC4, Params, PipelineCache, type KernelDef } from './pipelines.js';

/** Flush once this many dispatches are recorded (bounds host memory and lets the GPU start). */
export const MAX_PENDING = 256;

/** Bytes of one dispatch's parameter block. */
const PARAM_BYTES = MAX_PARAM_VEC4 * 16;

/**
 * Ops that report bad input through the error buffer (code = position in this list + 1): bad indices
 * and labels, and matmul inputs that float16 tiles cannot hold.
 */
export const CHECKED_OPS = ['gather', 'scatterAdd', 'crossEntropy', 'crossEntropyBackward', 'matmulF16'] as const;
/** An op of {@link CHECKED_OPS}. */
export type CheckedOp = (typeof CHECKED_OPS)[number];

/**
 * WGSL that records a bad index `v` at flat position `pos` (valid range 0..size−1) for op `code` in
 * the error buffer `ERR` (first error wins). `matmulF16` records the value's bits, and the operand
 * (0: A, 1: B) as `pos`.
 */
export const RECORD_ERROR_WGSL = `
fn recordError(code: u32, v: i32, pos: u32, size: u32) {
  let prev = atomicAdd(&ERR[0], 1u);
  if (prev == 0u) {
    atomicStore(&ERR[1], code);
    atomicStore(&ERR[2], bitcast<u32>(v));
    atomicStore(&ERR[3], pos);
    atomicStore(&ERR[4], size);
  }
}`;

interface Pending {
  def: KernelDef;
  buffers: GPUBuffer[];
  params: Uint32Array;
  groups: [number, number, number];
}

/** Splits `count` workgroups into an x·y grid within the per-dimension limit. */
export function grid(count: number, maxPerDim = 65535): [number, number, number] {
  if (count <= maxPerDim) return [Math.max(count, 1), 1, 1];
  const y = Math.ceil(count / maxPerDim);
  return [Math.ceil(count / y), y, 1];
}

/** Records dispatches, flushes them, reads buffers back, and reports device errors. */
export class GpuRuntime {
  readonly pipelines: PipelineCache;
  readonly pool: BufferPool;
  /** `[count, op code, value, position, size, 0, 0, 0]` of the first bad index since the last readback. */
  readonly errorBuffer: GPUBuffer;
  private pending: Pending[] = [];
  private deferred: GPUBuffer[] = [];
  private failure: ReformerError | undefined;
  private scopes: Promise<void>[] = [];
  private lost = false;
  private disposed = false;
  /** While set, dispatches are not flushed automatically (a timed region must be one pass). */
  private holdFlush = false;
  /** Dispatches submitted since creation (for tests and benchmarks). */
  dispatchCount = 0;
  /** Flushes (queue submits of kernels) since creation. */
  flushCount = 0;
  /** Dispatches recorded of kernels that use subgroup operations (`enable subgroups`). */
  subgroupDispatches = 0;

  constructor(
    readonly device: GPUDevice,
    poolCapBytes: number,
  ) {
    this.pipelines = new PipelineCache(device);
    this.pool = new BufferPool(device, poolCapBytes);
    this.errorBuffer = device.createBuffer({
      size: 32,
      usage: GPU_BUFFER_USAGE.STORAGE | GPU_BUFFER_USAGE.COPY_SRC | GPU_BUFFER_USAGE.COPY_DST,
    });
    void device.lost.then((info) => {
      this.lost = true;
      this.failure ??= new WebGPUDeviceLostError(
        `webgpu: the GPU device was lost (${info.reason}): ${info.message || 'no message'}. Create a new backend.`,
      );
    });
  }

  /** Stores a failure reported asynchronously (thrown by the next call). */
  fail(err: ReformerError): void {
    this.failure ??= err;
  }

  /**
   * Throws the stored failure, if any. A lost device stays failed; a validation or out-of-memory error
   * is thrown once (the work of that flush is unreliable) and then cleared.
   */
  check(): void {
    const f = this.failure;
    if (!f) return;
    if (!this.lost && !this.disposed) this.failure = undefined;
    throw f;
  }

  /** Whether a dispatch is recorded but not yet submitted. */
  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** Records one dispatch of `def` over `buffers` with `params`. */
  dispatch(def: KernelDef, buffers: GPUBuffer[], params: Params, groups: [number, number, number]): void {
    this.check();
    const limit = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (!groups.every((g) => Number.isInteger(g) && g >= 0 && g <= limit)) {
      throw new Error(`webgpu ${def.key}: bad workgroup grid ${JSON.stringify(groups)} (each count an integer in 0..${limit})`);
    }
    const data = params.data();
    if (data.length > MAX_PARAM_VEC4 * 4) throw new Error(`webgpu ${def.key}: ${data.length} parameter words exceed ${MAX_PARAM_VEC4 * 4}`);
    this.pending.push({ def, buffers, params: data, groups });
    if (def.enables?.includes('subgroups')) this.subgroupDispatches += 1;
    if (this.pending.length >= MAX_PENDING && !this.holdFlush) this.flush();
  }

  /** Returns a buffer to the pool once no recorded dispatch can still use it. */
  recycle(buf: GPUBuffer): void {
    if (this.pending.length > 0) this.deferred.push(buf);
    else this.pool.release(buf);
  }

  /** Encodes and submits every recorded dispatch (one encoder, one compute pass). */
  flush(extra?: (encoder: GPUCommandEncoder) => void, timestampWrites?: GPUComputePassTimestampWrites): void {
    this.check();
    const work = this.pending;
    this.pending = [];
    if (work.length === 0 && !extra) return;
    const device = this.device;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    let uniforms: GPUBuffer | undefined;
    try {
      const encoder = device.createCommandEncoder();
      if (work.length > 0) {
        const bytes = work.length * PARAM_BYTES;
        uniforms = this.pool.acquire(bytes);
        const all = new Uint32Array(bytes / 4);
        work.forEach((w, i) => all.set(w.params, (i * PARAM_BYTES) / 4));
        device.queue.writeBuffer(uniforms, 0, all);
        const pass = encoder.beginComputePass(timestampWrites ? { timestampWrites } : {});
        work.forEach((w, i) => {
          const { pipeline, layout } = this.pipelines.get(w.def);
          const entries: GPUBindGroupEntry[] = [
            { binding: 0, resource: { buffer: uniforms!, offset: i * PARAM_BYTES, size: PARAM_BYTES } },
          ];
          w.buffers.forEach((b, j) => entries.push({ binding: j + 1, resource: { buffer: b } }));
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, device.createBindGroup({ layout, entries }));
          pass.dispatchWorkgroups(w.groups[0], w.groups[1], w.groups[2]);
        });
        pass.end();
      }
      extra?.(encoder);
      device.queue.submit([encoder.finish()]);
      this.dispatchCount += work.length;
      this.flushCount += 1;
    } finally {
      // The scopes are always popped, even when encoding threw, so later flushes stay balanced.
      const validation = device.popErrorScope();
      const oom = device.popErrorScope();
      this.scopes.push(
        Promise.all([validation, oom]).then(
          ([v, o]) => {
            if (o) this.failure ??= new WebGPUOutOfMemoryError(`webgpu: the GPU ran out of memory: ${o.message}`);
            if (v) this.failure ??= new WebGPUValidationError(`webgpu: validation error in a kernel: ${v.message}`);
          },
          () => undefined,
        ),
      );
      if (uniforms) this.pool.release(uniforms);
      for (const b of this.deferred) this.pool.release(b);
      this.deferred = [];
    }
  }

  /** Waits for submitted work and for the error scopes of every flush so far. */
  async settle(): Promise<void> {
    const scopes = this.scopes;
    this.scopes = [];
    await Promise.all(scopes);
    if (!this.lost) await this.device.queue.onSubmittedWorkDone();
    this.check();
  }

  /**
   * Copies `bytes` of `buffer` to the host, together with the error buffer; throws the named error of
   * a failed flush or a recorded bad index.
   */
  async read(buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    this.check();
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.device.createBuffer({ size: size + 32, usage: READBACK_USAGE });
    this.flush((encoder) => {
      if (size > 0) encoder.copyBufferToBuffer(buffer, 0, staging, 0, size);
      encoder.copyBufferToBuffer(this.errorBuffer, 0, staging, size, 32);
    });
    try {
      await this.settle();
      await staging.mapAsync(MAP_READ);
      const copy = staging.getMappedRange().slice(0);
      staging.unmap();
      const err = new Uint32Array(copy, size, 8);
      if (err[0] !== 0) {
        this.device.queue.writeBuffer(this.errorBuffer, 0, new Uint32Array(8));
        throw recordedError(err);
      }
      return copy.slice(0, bytes);
    } catch (e) {
      this.check();
      throw e;
    } finally {
      staging.destroy();
    }
  }

  /**
   * GPU time (ms, from timestamp queries) of the dispatches `record` makes, run as one compute pass.
   * Needs the device feature `timestamp-query`.
   */
  async gpuTime(record: () => void): Promise<number> {
    this.flush();
    const device = this.device;
    const querySet = device.createQuerySet({ type: 'timestamp', count: 2 });
    const resolved = device.createBuffer({ size: 16, usage: GPU_BUFFER_USAGE.QUERY_RESOLVE | GPU_BUFFER_USAGE.COPY_SRC });
    const staging = device.createBuffer({ size: 16, usage: READBACK_USAGE });
    this.holdFlush = true;
    try {
      record();
    } finally {
      this.holdFlush = false;
    }
    this.flush(
      (encoder) => {
        encoder.resolveQuerySet(querySet, 0, 2, resolved, 0);
        encoder.copyBufferToBuffer(resolved, 0, staging, 0, 16);
      },
      { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 },
    );
    try {
      await this.settle();
      await staging.mapAsync(MAP_READ);
      const t = new BigUint64Array(staging.getMappedRange().slice(0));
      staging.unmap();
      return Number(t[1]! - t[0]!) / 1e6;
    } finally {
      querySet.destroy();
      resolved.destroy();
      staging.destroy();
    }
  }

  /** Releases the pool and the error buffer (the device itself belongs to the caller). */
  dispose(): void {
    this.pending = [];
    for (const b of this.deferred) b.destroy();
    this.deferred = [];
    this.pool.clear();
    this.errorBuffer.destroy();
    this.disposed = true;
    this.failure ??= new WebGPUDeviceLostError('webgpu: this backend was disposed; create a new one.');
  }
}

/** The named error of bad input recorded on the GPU. */
function recordedError(err: Uint32Array): InvalidArgumentError {
  const op = CHECKED_OPS[err[1]! - 1] ?? 'gather';
  const value = err[2]! | 0;
  const pos = err[3]!;
  const size = err[4]!;
  if (op === 'matmulF16') {
    const x = new Float32Array(Uint32Array.of(err[2]!).buffer)[0]!;
    return new InvalidArgumentError(
      `matmul: operand ${pos === 0 ? 'A' : 'B'} holds ${x}, which float16 cannot hold (finite, |x| ≤ 65504); this backend was created with ` +
        `matmulPrecision 'f16'. Use matmulPrecision 'f32' (the default), or scale the inputs. (Checked on the GPU: reported by the first ` +
        `readback after the kernel ran; the value was read as 0.)`,
    );
  }
  const what = op.startsWith('crossEntropy') ? `label ${value} of row ${pos}` : `index ${value} (at flat position ${pos})`;
  const valid = op.startsWith('crossEntropy')
    ? `labels must be in 0..${size - 1} or equal ignoreIndex`
    : `valid indices are 0..${size - 1}`;
  return new InvalidArgumentError(
    `${op}: ${what} is out of range; ${valid}. (Checked on the GPU: reported by the first readback after the kernel ran; ` +
      `the kernel's output for that index was 0.)`,
  );
}

/** The code of a checked op in the error buffer. */
export function checkedOpCode(op: CheckedOp): number {
  return CHECKED_OPS.indexOf(op) + 1;
}
