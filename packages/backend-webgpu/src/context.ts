/**
 * What kernels see of the backend: the runtime (dispatch queue and pipeline cache) and the
 * allocator of tensor storage.
 */
import type { DType } from '@reformer/core';
import type { MatmulPrecision } from './kernels/matmul.js';
import type { ReduceMode } from './kernels/rows.js';
import type { GpuRuntime } from './runtime.js';

/** The storage handle of the WebGPU backend: a pooled GPU buffer holding `size` 32-bit elements. */
export interface GpuStorage {
  readonly buffer: GPUBuffer;
  /** Elements (the buffer may be larger: its size class). */
  readonly size: number;
}

/** The allocation and dispatch services kernels use. */
export interface KernelContext {
  readonly rt: GpuRuntime;
  /** New tensor storage of `size` elements (counted in `memory()`); contents undefined. */
  alloc(size: number, dtype: DType): GpuStorage;
  /** A scratch buffer of `bytes` (not tensor storage); give it back with `rt.recycle` once recorded. */
  scratch(bytes: number): GPUBuffer;
  /** A bindable placeholder for an absent optional input. */
  readonly dummy: GPUBuffer;
  /** Largest element count of one storage binding. */
  readonly maxElements: number;
  /** How reducing kernels combine values across a workgroup (tree, or subgroup operations). */
  readonly reduceMode: ReduceMode;
  /** Precision of the tiled matmul's workgroup tiles. */
  readonly matmulPrecision: MatmulPrecision;
}

/** `dtype` of the value, as the WGSL element type. */
export function elemType(dtype: DType): 'f32' | 'i32' {
  return dtype === 'int32' ? 'i32' : 'f32';
}
