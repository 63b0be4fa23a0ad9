/**
 * Browser: starts the benchmark's backends in a page (CPU reference, our wasm SIMD backend, tfjs wasm/cpu with the wasm files
 * served by Vite, WebGPU through `navigator.gpu`).
 *
 * @module
 */
import { createCpuBackend } from '@reformer/core';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-cpu';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import reformerWasmSimd from '@reformer/backend-wasm/kernels-simd.wasm?url';
import reformerWasmRelaxed from '@reformer/backend-wasm/kernels-relaxed.wasm?url';
import { describeAdapter, type AdapterInfoLike, type BackendStarter, type StartedBackend } from '../backends.js';
import type { BackendName } from '../types.js';

export { tf };

let wasmPathsSet = false;

/** Points tfjs-wasm at the wasm files Vite serves (no CDN). */
export async function prepareBrowserWasm(): Promise<void> {
  if (wasmPathsSet) return;
  setWasmPaths({
    'tfjs-backend-wasm.wasm': wasmPlain,
    'tfjs-backend-wasm-simd.wasm': wasmSimd,
    'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
  });
  wasmPathsSet = true;
}

interface WebGPUModule {
  createWebGPUBackend?: (
    options?: unknown,
  ) => Promise<StartedBackend['backend'] & { adapterInfo?: AdapterInfoLike; hasTimestamps?: boolean }>;
}

/** Starts backends in the page. */
export const startBrowserBackend: BackendStarter = async (name: BackendName) => {
  switch (name) {
    case 'cpu':
      return { backend: createCpuBackend(), info: 'reference CPU backend (TypeScript, main thread)' };
    case 'wasm': {
      const { createWasmBackend } = await import('@reformer/backend-wasm');
      const backend = await createWasmBackend({
        threads: 1, // the files below are the one-thread builds
        wasmPath: async (file) => (await fetch(file === 'kernels-simd.wasm' ? reformerWasmSimd : reformerWasmRelaxed)).arrayBuffer(),
      });
      return { backend, info: `@reformer/backend-wasm (${backend.kernelFeatures.variant} kernels), main thread` };
    }
    case 'tfjs-wasm': {
      await prepareBrowserWasm();
      const { createTfjsBackend } = await import('@reformer/backend-tfjs');
      return { backend: await createTfjsBackend({ tf, backendName: 'wasm' }), info: `tfjs ${tf.version_core} wasm` };
    }
    case 'tfjs-cpu': {
      const { createTfjsBackend } = await import('@reformer/backend-tfjs');
      return { backend: await createTfjsBackend({ tf, backendName: 'cpu' }), info: `tfjs ${tf.version_core} cpu` };
    }
    case 'webgpu': {
      if (!('gpu' in navigator)) throw new Error('this browser has no navigator.gpu (WebGPU disabled or unsupported)');
      const mod = (await import('@reformer/backend-webgpu')) as unknown as WebGPUModule;
      if (typeof mod.createWebGPUBackend !== 'function') throw new Error('@reformer/backend-webgpu does not export createWebGPUBackend');
      const backend = await mod.createWebGPUBackend();
      return { backend, info: describeAdapter(backend.adapterInfo, backend.hasTimestamps) };
    }
  }
};
