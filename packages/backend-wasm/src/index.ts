/**
 * `@reformer/backend-wasm`: the `@reformer/core` Backend contract on our own WebAssembly SIMD128
 * kernels, with tensors in one WebAssembly memory. This entry is browser-safe (no `node:` imports);
 * in Node use `@reformer/backend-wasm/node`, which reads the `.wasm` from the installed package.
 * @packageDocumentation
 */
import { InvalidArgumentError } from '@reformer/core';
import { createBackendFrom, type KernelSource, type ThreadSupport, type WasmBackendOptions } from './create.js';
import type { WasmBackend } from './backend.js';
import type { PoolWorker } from './pool.js';
import type { WorkerInit } from './pool-protocol.js';

export { WasmBackend } from './backend.js';
export { WasmStorage } from './heap.js';
export { WasmMemoryLimitError, WasmWorkerError } from './errors.js';
export { hasRelaxedSimd } from './features.js';
export type { WasmKernelFeatures } from './features.js';
export type { WasmBackendOptions } from './create.js';

/** Options of the browser entry's {@link createWasmBackend}. */
export interface WasmBackendLoadOptions extends WasmBackendOptions {
  /**
   * Where the `.wasm` files are: a folder URL ending in `/` (they are `kernels-simd.wasm` and
   * `kernels-relaxed.wasm`, copied from the package's `dist/`), or a function returning the bytes or a
   * compiled module of one file. Default: next to this module (`new URL('./…', import.meta.url)`, which
   * bundlers such as Vite and webpack 5 resolve and copy).
   */
  wasmPath?: string | URL | KernelSource;
}

/** Fetches a kernel file relative to this module or to `wasmPath`. */
function fetchSource(path: string | URL | undefined): KernelSource {
  return async (file) => {
    const url =
      path !== undefined
        ? new URL(file, path)
        : file === 'kernels-simd.wasm'
          ? new URL('./kernels-simd.wasm', import.meta.url)
          : file === 'kernels-relaxed.wasm'
            ? new URL('./kernels-relaxed.wasm', import.meta.url)
            : file === 'kernels-simd-shared.wasm'
              ? new URL('./kernels-simd-shared.wasm', import.meta.url)
              : new URL('./kernels-relaxed-shared.wasm', import.meta.url);
    if (url.protocol === 'file:') {
      throw new InvalidArgumentError(
        `backend-wasm: cannot fetch ${url.href} (a file URL). In Node, import createWasmBackend from '@reformer/backend-wasm/node', which reads the installed .wasm files.`,
      );
    }
    const response = await fetch(url);
    if (!response.ok) {
      throw new InvalidArgumentError(
        `backend-wasm: fetching ${url.href} gave HTTP ${response.status}. Serve the package's dist/*.wasm files there or pass wasmPath.`,
      );
    }
    return response.arrayBuffer();
  };
}

/** Web Workers running `worker.js` (a module worker next to this module), where the platform has them. */
function browserThreads(): ThreadSupport {
  const g = globalThis as { Worker?: unknown; navigator?: { hardwareConcurrency?: number } };
  const spawn =
    typeof g.Worker !== 'function'
      ? undefined
      : (init: WorkerInit, stopped: (reason: string) => void): PoolWorker => {
          const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
          const ready = new Promise<void>((resolve, reject) => {
            worker.onmessage = () => resolve();
            worker.onerror = (e) => {
              reject(new Error(`backend-wasm: a kernel worker failed to start: ${e.message}`));
              stopped(`an uncaught error: ${e.message}`);
            };
          });
          worker.postMessage(init);
          return { ready, terminate: () => worker.terminate() };
        };
  return { spawn, defaultThreads: g.navigator?.hardwareConcurrency ?? 1 };
}

/**
 * Creates a wasm backend (browsers and bundlers). Register it with `setBackend(await createWasmBackend())`.
 *
 * ```ts
 * import { setBackend, tensor, matmul } from '@reformer/core';
 * import { createWasmBackend } from '@reformer/backend-wasm';
 * await setBackend(await createWasmBackend());
 * ```
 */
export function createWasmBackend(options: WasmBackendLoadOptions = {}): Promise<WasmBackend> {
  const { wasmPath } = options;
  const source = typeof wasmPath === 'function' ? wasmPath : fetchSource(wasmPath);
  return createBackendFrom(source, options, browserThreads());
}
