/** Creating a backend from compiled kernels: feature choice, memory, heap. */
import { InvalidArgumentError } from '@reformer/core';
import { PAGE, WASM32_LIMIT } from './allocator.js';
import { WasmBackend } from './backend.js';
import { WasmHeap } from './heap.js';
import { chooseVariant, instantiateKernels, KERNEL_FILES } from './kernels.js';

/** Options of `createWasmBackend`. */
export interface WasmBackendOptions {
  /**
   * Which kernel build to run: `'relaxed-simd'` (fused multiply-add) or `'simd'`. Default: relaxed
   * SIMD when the engine validates it, else plain SIMD.
   */
  kernels?: 'simd' | 'relaxed-simd';
  /**
   * The most bytes the backend's WebAssembly memory may grow to (default and maximum: 4 GiB, the
   * wasm32 address space). An allocation past it throws `WasmMemoryLimitError`.
   */
  maxMemoryBytes?: number;
  /** Initial size of the memory in bytes (default 16 MiB); it grows on demand. */
  initialMemoryBytes?: number;
}

/** Bytes below the heap, kept for the kernel module's static data (it has none today). */
const STATIC_BYTES = PAGE;

/** Loads the bytes of a kernel build; supplied by the entry point (fetch in browsers, fs in Node). */
export type KernelSource = (file: (typeof KERNEL_FILES)[keyof typeof KERNEL_FILES]) => Promise<BufferSource | WebAssembly.Module>;

/** Shared by both entry points: picks the build, loads it through `source`, sets up the memory. */
export async function createBackendFrom(source: KernelSource, options: WasmBackendOptions = {}): Promise<WasmBackend> {
  const features = chooseVariant(options.kernels);
  const limit = options.maxMemoryBytes ?? WASM32_LIMIT;
  if (!(limit > STATIC_BYTES && limit <= WASM32_LIMIT)) {
    throw new InvalidArgumentError(`backend-wasm: maxMemoryBytes must be in (${STATIC_BYTES}, ${WASM32_LIMIT}] (4 GiB, the wasm32 address space), got ${limit}.`);
  }
  const initialBytes = Math.min(limit, Math.max(STATIC_BYTES, options.initialMemoryBytes ?? 16 * 2 ** 20));
  const loaded = await source(KERNEL_FILES[features.variant]);
  const module = loaded instanceof WebAssembly.Module ? loaded : await WebAssembly.compile(loaded);
  const memory = new WebAssembly.Memory({ initial: Math.ceil(initialBytes / PAGE), maximum: Math.floor(limit / PAGE) });
  const kernels = await instantiateKernels(module, memory);
  return new WasmBackend(kernels, new WasmHeap(memory, STATIC_BYTES, limit), features);
}
