/**
 * Node entry of `@reformer/backend-wasm`: the same backend, with the `.wasm` read from the installed
 * package (offline; no fetch). Kept apart so the main entry stays free of `node:` imports.
 * @packageDocumentation
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createBackendFrom, type WasmBackendOptions } from './create.js';
import type { WasmBackend } from './backend.js';
import type { KernelFile } from './kernels.js';
import type { PoolWorker } from './pool.js';
import type { WorkerInit } from './pool-protocol.js';

export { WasmBackend } from './backend.js';
export { WasmStorage } from './heap.js';
export { WasmMemoryLimitError, WasmWorkerError } from './errors.js';
export { hasRelaxedSimd } from './features.js';
export type { WasmKernelFeatures } from './features.js';
export type { WasmBackendOptions } from './create.js';

/**
 * The path of a kernel file of the installed package (`dist/kernels-*.wasm`), resolved through the
 * package's own `exports` (so it also works from a bundle of a Node app that keeps the package external).
 */
export function wasmFilePath(file: KernelFile): string {
  return join(packageDist(), file);
}

/** The installed package's `dist/` (resolved through its own `package.json` export). */
function packageDist(): string {
  return join(dirname(createRequire(import.meta.url).resolve('@reformer/backend-wasm/package.json')), 'dist');
}

/** Starts a kernel worker (`dist/worker-node.js`); it does not keep the process alive. */
function spawnNodeWorker(init: WorkerInit, stopped: (reason: string) => void): PoolWorker {
  // No execArgv: the worker is plain JavaScript, and some of the parent's options (--input-type, -e)
  // are refused in workers. V8 flags such as --experimental-wasm-relaxed-simd are process-wide anyway.
  const worker = new Worker(join(packageDist(), 'worker-node.js'), { workerData: init, execArgv: [] });
  worker.unref();
  const ready = new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.on('error', (e) => {
      reject(e);
      stopped(`an uncaught ${e.name}: ${e.message}`);
    });
    worker.once('exit', (code) => {
      reject(new Error(`backend-wasm: a kernel worker exited (code ${code}) before it was ready.`));
      stopped(`it exited with code ${code}`);
    });
  });
  return { ready, terminate: () => void worker.terminate() };
}

/**
 * Creates a wasm backend in Node, reading the kernels from the installed package.
 *
 * ```ts
 * import { setBackend } from '@reformer/core';
 * import { createWasmBackend } from '@reformer/backend-wasm/node';
 * await setBackend(await createWasmBackend());
 * ```
 */
export function createWasmBackend(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  return createBackendFrom((file) => readFile(wasmFilePath(file)), options, {
    spawn: spawnNodeWorker,
    defaultThreads: availableParallelism(),
  });
}
