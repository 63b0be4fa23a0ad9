/**
 * Node-only: starts the benchmark's backends in Node (CPU reference, our wasm SIMD backend, tfjs wasm/cpu with the wasm files
 * from the installed package, WebGPU through Dawn).
 *
 * @module
 */
import { createCpuBackend } from '@reformer/core';
import * as tf from '@tensorflow/tfjs-core';
// The plain-tfjs baseline differentiates with tf.grads: register tfjs's gradients, as @tensorflow/tfjs does.
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import type { BackendStarter, StartedBackend } from '../backends.js';
import { describeAdapter, type AdapterInfoLike } from '../backends.js';
import type { BackendName } from '../types.js';

/** The tfjs module the tfjs backends and the plain-tfjs baseline share. */
export { tf };

let wasmReady: Promise<void> | undefined;

/** Registers tfjs's wasm backend with the wasm files of the installed package (no network). */
export function prepareTfjsWasm(): Promise<void> {
  wasmReady ??= (async () => {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const { wasmPathsForNode } = await import('@reformer/backend-tfjs/node');
    wasm.setWasmPaths(wasmPathsForNode());
  })();
  return wasmReady;
}

/** What `@reformer/backend-webgpu/node` is expected to export. */
interface WebGPUNodeModule {
  createNodeWebGPUBackend?: (
    options?: unknown,
  ) => Promise<{ adapterInfo?: AdapterInfoLike; hasTimestamps?: boolean } & StartedBackend['backend']>;
}

/** Starts backends in Node. */
export const startNodeBackend: BackendStarter = async (name: BackendName): Promise<StartedBackend> => {
  switch (name) {
    case 'cpu':
      return { backend: createCpuBackend(), info: 'reference CPU backend (TypeScript, one thread)' };
    case 'wasm': {
      const { createWasmBackend } = await import('@reformer/backend-wasm/node');
      // One thread, like the other CPU backends here, unless BENCH_WASM_THREADS asks for more.
      const backend = await createWasmBackend({ threads: Number(process.env['BENCH_WASM_THREADS'] ?? 1) });
      const { threads } = backend.kernelFeatures;
      return {
        backend,
        info: `@reformer/backend-wasm (${backend.kernelFeatures.variant} kernels), ${threads === 1 ? 'one thread' : `${threads} threads`}`,
      };
    }
    case 'tfjs-wasm': {
      await prepareTfjsWasm();
      const { createTfjsBackend } = await import('@reformer/backend-tfjs');
      const backend = await createTfjsBackend({ tf, backendName: 'wasm' });
      return { backend, info: `tfjs ${tf.version_core} wasm (XNNPACK), Node: one thread` };
    }
    case 'tfjs-cpu': {
      await import('@tensorflow/tfjs-backend-cpu');
      const { createTfjsBackend } = await import('@reformer/backend-tfjs');
      const backend = await createTfjsBackend({ tf, backendName: 'cpu' });
      return { backend, info: `tfjs ${tf.version_core} cpu (plain JavaScript kernels)` };
    }
    case 'webgpu': {
      let mod: WebGPUNodeModule;
      try {
        // A variable specifier: the entry point may not be built yet while that package is being written.
        const specifier = '@reformer/backend-webgpu/node';
        mod = (await import(specifier)) as WebGPUNodeModule;
      } catch (err) {
        throw new Error(
          `@reformer/backend-webgpu/node could not be loaded (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`,
        );
      }
      if (typeof mod.createNodeWebGPUBackend !== 'function') {
        throw new Error('@reformer/backend-webgpu/node does not export createNodeWebGPUBackend yet');
      }
      const backend = await mod.createNodeWebGPUBackend();
      return { backend, info: describeAdapter(backend.adapterInfo, backend.hasTimestamps) };
    }
  }
};
