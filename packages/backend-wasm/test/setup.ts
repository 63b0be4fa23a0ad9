import { createWasmBackend, type WasmBackendOptions } from '../src/node.js';

/** A new wasm backend with the kernels the engine picks (plain SIMD on Node 20 without flags). */
export function createWasm(options: WasmBackendOptions = {}) {
  return createWasmBackend(options);
}
