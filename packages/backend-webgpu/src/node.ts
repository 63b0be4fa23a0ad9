/**
 * `@reformer/backend-webgpu/node`: the backend in Node through Dawn (the optional peer dependency
 * `webgpu`). Tries the default adapter (Vulkan / a real GPU) first, then Mesa's OpenGL ES software
 * renderer at the compatibility feature level (setting `EGL_PLATFORM=surfaceless` when unset).
 * @packageDocumentation
 */
import { createWebGPUBackend, WebGPUUnavailableError, type WebGPUBackend } from './index.js';

/** Options of {@link createNodeWebGPUBackend}. */
export interface NodeWebGPUBackendOptions {
  /** Dawn toggles for `create(flags)`; when given, only these are tried (e.g. `['backend=vulkan']`). */
  flags?: string[];
  /** Adapter preference. */
  powerPreference?: GPUPowerPreference;
  /** Most bytes of idle GPU buffers kept for reuse (default 256 MiB). */
  poolCapBytes?: number;
  /** Subgroup variants of the reducing kernels when the device has `subgroups` (default true). */
  useSubgroups?: boolean;
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
  let mod: WebGPUModule;
  try {
    mod = (await import('webgpu')) as unknown as WebGPUModule;
  } catch (err) {
    throw new WebGPUUnavailableError(`the optional peer dependency 'webgpu' could not be loaded (${err instanceof Error ? err.message : String(err)})`);
  }
  for (const [k, v] of Object.entries(mod.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  const attempts: { flags: string[]; featureLevel: 'core' | 'compatibility'; label: string }[] = options.flags
    ? [{ flags: options.flags, featureLevel: 'compatibility', label: options.flags.join(',') || 'default' }]
    : [
        { flags: [], featureLevel: 'core', label: 'default' },
        { flags: ['backend=opengles'], featureLevel: 'compatibility', label: 'opengles' },
      ];
  const failures: string[] = [];
  for (const a of attempts) {
    if (a.flags.includes('backend=opengles')) process.env['EGL_PLATFORM'] ??= 'surfaceless';
    try {
      const gpu = mod.create(a.flags);
      return await createWebGPUBackend({
        gpu,
        featureLevel: a.featureLevel,
        backendLabel: a.label,
        ...(options.powerPreference ? { powerPreference: options.powerPreference } : {}),
        ...(options.poolCapBytes !== undefined ? { poolCapBytes: options.poolCapBytes } : {}),
        ...(options.useSubgroups !== undefined ? { useSubgroups: options.useSubgroups } : {}),
      });
    } catch (err) {
      failures.push(`${a.label}: ${err instanceof Error ? err.message.split('. ')[0] : String(err)}`);
    }
  }
  throw new WebGPUUnavailableError(`no adapter from Dawn (${failures.join('; ')})`);
}
