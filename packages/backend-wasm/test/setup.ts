import { createWasmBackend, type WasmBackendOptions } from '../src/node.js';

/**
 * A new wasm backend with the kernels the engine picks (plain SIMD on Node 20 without flags), on one
 * thread unless `options.threads` says otherwise (the tests that need workers ask for them).
 */
export function createWasm(options: WasmBackendOptions = {}) {
  return createWasmBackend({ threads: 1, ...options });
}
