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
import type { WasmBackend } from '@reformer/backend-wasm/node';

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

/** Options of {@link nodeBackendStarter}. */
export interface NodeBackendOptions {
  /** Threads of `@reformer/backend-wasm` (`--wasm-threads`; default 1, like the other CPU backends here). */
  wasmThreads?: number | undefined;
}

/** How relaxed SIMD came to be on (or not) for this process: see {@link enableRelaxedSimd}. */
let relaxedSimd: 'engine default' | 'V8 flag set by the bench' | 'not in this engine' | 'off (--plain-simd)' = 'engine default';

/**
 * Relaxed SIMD (fused multiply-add) for the wasm backend where the engine has it behind a flag (Node
 * 20's `--experimental-wasm-relaxed-simd`; on by default in Node ≥ 22 and Chrome ≥ 114): sets the V8
 * flag before any wasm module is compiled, so the bench measures the kernels that current runtimes
 * run. With `plain` (`--plain-simd`) the engine's default stays (plain SIMD on Node 20).
 */
export async function enableRelaxedSimd(plain: boolean): Promise<void> {
  const { hasRelaxedSimd } = await import('@reformer/backend-wasm/node');
  if (plain) relaxedSimd = 'off (--plain-simd)';
  else if (!hasRelaxedSimd()) {
    (await import('node:v8')).setFlagsFromString('--experimental-wasm-relaxed-simd');
    relaxedSimd = hasRelaxedSimd() ? 'V8 flag set by the bench' : 'not in this engine';
  }
}

/** Starts `@reformer/backend-wasm` with `threads` threads; the info line says how many it got. */
export async function startWasmBackend(threads: number): Promise<StartedBackend & { backend: WasmBackend }> {
  const { createWasmBackend } = await import('@reformer/backend-wasm/node');
  const backend = await createWasmBackend({ threads });
  const got = backend.kernelFeatures.threads;
  return {
    backend,
    info: `@reformer/backend-wasm (${backend.kernelFeatures.variant} kernels; relaxed SIMD: ${relaxedSimd}), ${got === 1 ? 'one thread' : `${got} threads`}`,
  };
}

/** A starter of the backends in Node, with the wasm backend's thread count of `options`. */
export function nodeBackendStarter(options: NodeBackendOptions = {}): BackendStarter {
  const wasmThreads = options.wasmThreads ?? 1;
  return (name) => (name === 'wasm' ? startWasmBackend(wasmThreads) : startOther(name));
}

/** `start`, except that the wasm backend starts with `threads` threads. */
export function withWasmThreads(start: BackendStarter, threads: number): BackendStarter {
  return (name) => (name === 'wasm' ? startWasmBackend(threads) : start(name));
}

/** Starts backends in Node (the wasm backend on one thread). */
export const startNodeBackend: BackendStarter = nodeBackendStarter();

async function startOther(name: BackendName): Promise<StartedBackend> {
  switch (name) {
    case 'cpu':
      return { backend: createCpuBackend(), info: 'reference CPU backend (TypeScript, one thread)' };
    case 'wasm':
      return startWasmBackend(1);
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
}
