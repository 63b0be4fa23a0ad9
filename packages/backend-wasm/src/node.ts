/**
 * Node entry of `@reformer/backend-wasm`: the same backend, with the `.wasm` read from the installed
 * package (offline; no fetch). Kept apart so the main entry stays free of `node:` imports.
 * @packageDocumentation
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createBackendFrom, type WasmBackendOptions } from './create.js';
import type { WasmBackend } from './backend.js';
import { KERNEL_FILES } from './kernels.js';

export { WasmBackend } from './backend.js';
export { WasmStorage } from './heap.js';
export { WasmMemoryLimitError } from './errors.js';
export type { WasmKernelFeatures } from './features.js';
export type { WasmBackendOptions } from './create.js';

/**
 * The path of a kernel file of the installed package (`dist/kernels-*.wasm`), resolved through the
 * package's own `exports` (so it also works from a bundle of a Node app that keeps the package external).
 */
export function wasmFilePath(file: (typeof KERNEL_FILES)[keyof typeof KERNEL_FILES]): string {
  return createRequire(import.meta.url).resolve(`@reformer/backend-wasm/${file}`);
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
  return createBackendFrom((file) => readFile(wasmFilePath(file)), options);
}
