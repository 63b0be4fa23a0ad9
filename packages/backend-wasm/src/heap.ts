/**
 * The backend's one WebAssembly memory: the allocator, the storage handles of tensors, exact byte
 * accounting and typed-array views. Views are made from the memory's current buffer each time they are
 * asked for, so they are never stale after the memory grows (growth replaces the buffer).
 */
import type { BackendMemory, DType, TypedArray } from '@reformer/core';
import { WasmAllocator } from './allocator.js';

/** The storage handle of the wasm backend: a range of the backend's WebAssembly memory. */
export class WasmStorage {
  /** @internal */
  freed = false;
  constructor(
    /** Byte offset of the first element in the backend's memory. */
    readonly ptr: number,
    /** Number of 4-byte elements. */
    readonly length: number,
  ) {}
}

/** Bytes per element (float32 and int32 alike). */
const BYTES = 4;
/** Scratch kept between kernel calls: enough for the matmul's packed panels and attention windows. */
const SCRATCH_KEEP_BYTES = 4 * 2 ** 20;

/** Memory, allocator and accounting of one backend. */
export class WasmHeap {
  readonly allocator: WasmAllocator;
  private liveBytes = 0;
  private peakBytes = 0;
  private liveBuffers = 0;
  /** A block kept across kernel calls for packing and per-call scratch (not tensor storage). */
  private scratchPtr = 0;
  private scratchSize = 0;

  constructor(
    readonly memory: WebAssembly.Memory,
    base: number,
    /** The most bytes the memory may grow to. */
    readonly limitBytes: number,
  ) {
    this.allocator = new WasmAllocator(memory, base, limitBytes, () => {});
  }

  /** New storage of `length` elements (contents undefined: freed blocks are reused as they are). */
  alloc(length: number): WasmStorage {
    const ptr = this.allocator.alloc(length * BYTES);
    this.liveBytes += length * BYTES;
    this.liveBuffers += 1;
    if (this.liveBytes > this.peakBytes) this.peakBytes = this.liveBytes;
    return new WasmStorage(ptr, length);
  }

  /** Releases storage once (a second call is ignored). */
  free(s: WasmStorage): void {
    if (s.freed) return;
    s.freed = true;
    this.allocator.free(s.ptr);
    this.liveBytes -= s.length * BYTES;
    this.liveBuffers -= 1;
  }

  /** A byte offset of at least `bytes` bytes of scratch, valid until the next `scratch` call. */
  scratch(bytes: number): number {
    if (bytes > this.scratchSize) {
      if (this.scratchSize > 0) this.allocator.free(this.scratchPtr);
      this.scratchSize = 0;
      this.scratchPtr = this.allocator.alloc(bytes);
      this.scratchSize = bytes;
    }
    return this.scratchPtr;
  }

  /**
   * Gives the scratch block back when it is larger than `keepBytes` (kernels whose scratch grows with
   * the tensor, like scatter-add's double accumulators, call this so the memory does not stay held).
   */
  trimScratch(keepBytes = SCRATCH_KEEP_BYTES): void {
    if (this.scratchSize <= keepBytes) return;
    this.allocator.free(this.scratchPtr);
    this.scratchPtr = 0;
    this.scratchSize = 0;
  }

  /** A float32 view of `length` elements at byte offset `ptr` (of the current buffer). */
  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }

  /** An int32 view of `length` elements at byte offset `ptr` (of the current buffer). */
  i32(ptr: number, length: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, length);
  }

  /** A view of storage as the typed array of `dtype`. */
  view(s: WasmStorage, dtype: DType): TypedArray {
    return dtype === 'int32' ? this.i32(s.ptr, s.length) : this.f32(s.ptr, s.length);
  }

  /** Exact counters of tensor storage, plus the memory's size, scratch and free-block bytes. */
  memoryInfo(): BackendMemory {
    return {
      liveBytes: this.liveBytes,
      peakBytes: this.peakBytes,
      liveBuffers: this.liveBuffers,
      wasmMemoryBytes: this.memory.buffer.byteLength,
      scratchBytes: this.scratchSize,
      freeBlockBytes: this.allocator.freeBytes,
    };
  }

  resetPeak(): void {
    this.peakBytes = this.liveBytes;
  }
}
