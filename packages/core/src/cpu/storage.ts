import type { BackendMemory } from '../backend.js';
import type { DType, TypedArray } from '../types.js';

/** The storage handle of the CPU backend: the typed array that holds a tensor's elements. */
export type CpuStorage = Float32Array | Int32Array;

/** Bytes per stored element (both dtypes are 32-bit). */
const BYTES_PER_ELEMENT = 4;

/** Allocates zeroed storage of the same kind as `like`. */
export function allocLike(like: CpuStorage, size: number): CpuStorage {
  return like instanceof Int32Array ? new Int32Array(size) : new Float32Array(size);
}

/**
 * A fresh copy of the first `size` values of `values` as the typed array of `dtype`. Values of the other
 * kind are converted (float → int truncates toward zero).
 */
export function copyAs(values: TypedArray, dtype: DType, size: number): CpuStorage {
  const n = Math.min(size, values.length);
  if (dtype === 'int32') {
    if (values instanceof Int32Array) return values.slice(0, n);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.trunc(values[i]!);
    return out;
  }
  if (values instanceof Float32Array) return values.slice(0, n);
  return Float32Array.from(values.subarray(0, n));
}

/**
 * Exact accounting of live storage: every allocation is registered once by {@link track} and
 * unregistered at most once by {@link release} (a second `release` of the same storage is ignored, so
 * bytes are subtracted exactly once).
 */
export class StorageTracker {
  private readonly live = new WeakSet<CpuStorage>();
  private liveBytes = 0;
  private peakBytes = 0;
  private liveBuffers = 0;

  /** Registers new storage as live and updates the peak. */
  track(storage: CpuStorage): void {
    if (this.live.has(storage)) return;
    this.live.add(storage);
    this.liveBytes += storage.length * BYTES_PER_ELEMENT;
    this.liveBuffers += 1;
    if (this.liveBytes > this.peakBytes) this.peakBytes = this.liveBytes;
  }

  /** Unregisters storage; storage that is not live (already released, or never tracked) is ignored. */
  release(storage: CpuStorage): void {
    if (!this.live.delete(storage)) return;
    this.liveBytes -= storage.length * BYTES_PER_ELEMENT;
    this.liveBuffers -= 1;
  }

  /** The current counters. */
  memory(): BackendMemory {
    return { liveBytes: this.liveBytes, peakBytes: this.peakBytes, liveBuffers: this.liveBuffers };
  }

  /** Sets the peak to the current live bytes. */
  resetPeak(): void {
    this.peakBytes = this.liveBytes;
  }
}
