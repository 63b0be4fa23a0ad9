/** Creating a backend from compiled kernels: feature choice, memory, heap. */
import { InvalidArgumentError } from '@reformer/core';
import { PAGE, WASM32_LIMIT } from './allocator.js';
import { WasmBackend } from './backend.js';
import { WasmHeap } from './heap.js';
import { sharedMemoryUnavailable } from './features.js';
import { chooseVariant, instantiateKernels, KERNEL_FILES, SHARED_KERNEL_FILES, type KernelFile } from './kernels.js';
import { KernelRunner, WasmThreadPool, type SpawnWorker } from './pool.js';

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
  /**
   * Threads for the hot kernels (matmul, fused attention forward and backward): the calling thread
   * plus `threads − 1` workers over one shared memory. Default: the machine's cores
   * (`os.availableParallelism()` in Node, `navigator.hardwareConcurrency` in browsers). Results are
   * the same bits for any value. Without `SharedArrayBuffer` (a page that is not cross-origin
   * isolated) the backend runs one thread and says why in `kernelFeatures.threadsNote`.
   */
  threads?: number;
}

/** What an entry point supplies to start workers, and the default thread count of its platform. */
export interface ThreadSupport {
  /** Starts a worker; `undefined` where the platform has no workers. */
  spawn: SpawnWorker | undefined;
  /** The machine's cores. */
  defaultThreads: number;
}

/** Bytes below the heap, kept for the kernel module's static data (it has none today). */
const STATIC_BYTES = PAGE;

/** Loads the bytes of a kernel build; supplied by the entry point (fetch in browsers, fs in Node). */
export type KernelSource = (file: KernelFile) => Promise<BufferSource | WebAssembly.Module>;

/** Shared by both entry points: picks the build, loads it through `source`, sets up the memory and the threads. */
export async function createBackendFrom(
  source: KernelSource,
  options: WasmBackendOptions = {},
  support?: ThreadSupport,
): Promise<WasmBackend> {
  const features = chooseVariant(options.kernels);
  const limit = options.maxMemoryBytes ?? WASM32_LIMIT;
  if (!(limit > STATIC_BYTES && limit <= WASM32_LIMIT)) {
    throw new InvalidArgumentError(
      `backend-wasm: maxMemoryBytes must be in (${STATIC_BYTES}, ${WASM32_LIMIT}] (4 GiB, the wasm32 address space), got ${limit}.`,
    );
  }
  const asked = options.threads ?? Math.max(1, support?.defaultThreads ?? 1);
  if (!Number.isInteger(asked) || asked < 1 || asked > MAX_THREADS) {
    throw new InvalidArgumentError(`backend-wasm: threads must be an integer in [1, ${MAX_THREADS}], got ${String(options.threads)}.`);
  }
  let threads = asked;
  if (threads > 1) {
    const why =
      support?.spawn === undefined ? 'this platform has no workers, so the kernels run on one thread.' : sharedMemoryUnavailable();
    if (why !== undefined) {
      features.threadsNote = `${asked} threads were asked for but ${why}`;
      threads = 1;
    }
  }
  const initialBytes = Math.min(limit, Math.max(STATIC_BYTES, options.initialMemoryBytes ?? 16 * 2 ** 20));
  const pages = { initial: Math.ceil(initialBytes / PAGE), maximum: Math.floor(limit / PAGE) };
  let memory: WebAssembly.Memory | undefined;
  if (threads > 1) {
    try {
      // a shared memory reserves its maximum up front, which some engines (32-bit, mobile) refuse
      memory = new WebAssembly.Memory({ ...pages, shared: true });
    } catch (e) {
      features.threadsNote = `${asked} threads were asked for but this engine refused a shared memory of up to ${limit} bytes (${(e as Error).message}); lower maxMemoryBytes to use threads. The kernels run on one thread.`;
      threads = 1;
    }
  }
  const shared = memory !== undefined;
  memory ??= new WebAssembly.Memory(pages);
  const loaded = await source((shared ? SHARED_KERNEL_FILES : KERNEL_FILES)[features.variant]);
  const module = loaded instanceof WebAssembly.Module ? loaded : await WebAssembly.compile(loaded);
  const kernels = await instantiateKernels(module, memory);
  const heap = new WasmHeap(memory, STATIC_BYTES, limit);
  const pool = shared ? await WasmThreadPool.start(module, memory, threads, support!.spawn!) : undefined;
  features.threads = threads;
  return new WasmBackend(kernels, heap, features, new KernelRunner(kernels, heap, pool));
}

/** The most threads a backend may ask for. */
const MAX_THREADS = 256;
