/**
 * `@reformer/backend-webgpu/node`: the backend in Node through Dawn (the optional peer dependency
 * `webgpu`). Tries the default adapter (Vulkan / a real GPU) first, then Mesa's OpenGL ES software
 * renderer at the compatibility feature level (setting `EGL_PLATFORM=surfaceless` when unset).
 * @packageDocumentation
 */
import { ReformerError } from '@reformer/core';
import { createWebGPUBackend, WebGPUUnavailableError, type WebGPUBackend, type WebGPUBackendOptions } from './index.js';

/**
 * Options of {@link createNodeWebGPUBackend}: those of `createWebGPUBackend` (pool cap, subgroups,
 * matmul precision, ...) except how the adapter is found, plus Dawn's flags.
 */
export interface NodeWebGPUBackendOptions
  extends Omit<WebGPUBackendOptions, 'gpu' | 'adapter' | 'device' | 'featureLevel' | 'backendLabel'> {
  /**
   * Dawn toggles for `create(flags)`; when given, only these are tried (e.g. `['backend=vulkan']`, or
   * `['backend=opengles']`, which is requested at the compatibility feature level).
   */
  flags?: string[];
}

interface WebGPUModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

/**
 * Creates the backend in Node. Default: `create([])` (Vulkan or another native backend); if that has no
 * adapter, `create(['backend=opengles'])` with `featureLevel: 'compatibility'` (Mesa, llvmpipe).
 * `adapterInfo.backend` says which one was used. Throws `WebGPUUnavailableError` when neither works.
 */
export async function createNodeWebGPUBackend(options: NodeWebGPUBackendOptions = {}): Promise<WebGPUBackend> {
  const { flags, ...backendOptions } = options;
  let mod: WebGPUModule;
  try {
    mod = (await import('webgpu')) as unknown as WebGPUModule;
  } catch (err) {
    throw new WebGPUUnavailableError(
      `the optional peer dependency 'webgpu' could not be loaded (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  for (const [k, v] of Object.entries(mod.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  const attempts: { flags: string[]; featureLevel: 'core' | 'compatibility'; label: string }[] = flags
    ? [
        {
          flags,
          featureLevel: flags.includes('backend=opengles') ? 'compatibility' : 'core',
          label: flags.map((f) => f.replace(/^backend=/, '')).join(',') || 'default',
        },
      ]
    : [
        { flags: [], featureLevel: 'core', label: 'default' },
        { flags: ['backend=opengles'], featureLevel: 'compatibility', label: 'opengles' },
      ];
  const failures: string[] = [];
  for (const a of attempts) {
    if (a.flags.includes('backend=opengles')) process.env['EGL_PLATFORM'] ??= 'surfaceless';
    try {
      const gpu = mod.create(a.flags);
      return await createWebGPUBackend({ ...backendOptions, gpu, featureLevel: a.featureLevel, backendLabel: a.label });
    } catch (err) {
      // An adapter was found but an option cannot be met (e.g. WebGPUFeatureError): say so, do not try the next.
      if (err instanceof ReformerError && !(err instanceof WebGPUUnavailableError)) throw err;
      failures.push(`${a.label}: ${err instanceof Error ? err.message.split('. ')[0] : String(err)}`);
    }
  }
  throw new WebGPUUnavailableError(`no adapter from Dawn (${failures.join('; ')})`);
}
