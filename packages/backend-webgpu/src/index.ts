/**
 * `@reformer/backend-webgpu`: the `@reformer/core` Backend contract in our own WGSL kernels, for
 * browsers (`navigator.gpu`) and Node (pass a `GPU` from the `webgpu` package, or use
 * `@reformer/backend-webgpu/node`). This entry imports nothing from Node.
 *
 * ```ts
 * import { setBackend } from '@reformer/core';
 * import { createWebGPUBackend } from '@reformer/backend-webgpu';
 * await setBackend(await createWebGPUBackend());
 * ```
 * @packageDocumentation
 */
import { WebGPUBackend } from './backend.js';
import { describeAdapter, requestAdapter, requestDevice } from './device.js';
import { WebGPUUnavailableError } from './errors.js';
import type { MatmulPrecision } from './kernels/matmul.js';

export { WebGPUBackend, type WebGPUAdapterInfo, type WebGPUBackendInit, type WebGPUKernelFeatures } from './backend.js';
export type { ReduceMode } from './kernels/rows.js';
export type { GpuStorage } from './context.js';
export {
  WebGPUBufferTooLargeError,
  WebGPUDeviceLostError,
  WebGPUFeatureError,
  WebGPUOutOfMemoryError,
  WebGPUUnavailableError,
  WebGPUValidationError,
} from './errors.js';
export type { MatmulPrecision } from './kernels/matmul.js';

/** Options of {@link createWebGPUBackend}. */
export interface WebGPUBackendOptions {
  /** The WebGPU entry point (default `navigator.gpu`; in Node, `create([...])` of the `webgpu` package). */
  gpu?: GPU;
  /** Use this adapter instead of requesting one. */
  adapter?: GPUAdapter;
  /** Use this device (the backend will not destroy it). */
  device?: GPUDevice;
  /** Adapter preference. */
  powerPreference?: GPUPowerPreference;
  /** `compatibility` also accepts OpenGL ES adapters (Mesa in Node); default: the GPU's default (`core`). */
  featureLevel?: 'core' | 'compatibility';
  /** Reported as `adapterInfo.backend` (how the adapter was obtained). */
  backendLabel?: string;
  /** Most bytes of idle GPU buffers kept for reuse (default 256 MiB). */
  poolCapBytes?: number;
  /**
   * Subgroup variants of the reducing kernels (reductions, softmax/logsumexp, layer norm,
   * cross-entropy) when the device has `subgroups` (default true). `false` runs the workgroup-memory
   * path on the same device (e.g. to compare the two).
   */
  useSubgroups?: boolean;
  /**
   * Use WGSL's `subgroup_id` builtin for the subgroup slots when the implementation has it (default
   * true); `false` uses atomically claimed, ranked slots (the path for implementations without it).
   */
  useSubgroupId?: boolean;
  /**
   * `'f16'`: the tiled matmul (M and N ≥ 16) stages its operand tiles in workgroup memory as float16
   * (half the workgroup memory and its traffic; products and sums stay float32), so each product
   * carries the inputs' float16 rounding (≤ 2⁻¹⁰ relative, 2⁻¹⁴ absolute near zero). Needs the device
   * feature `shader-f16` (else `WebGPUFeatureError`); an input beyond float16's range (|x| > 65504,
   * ±Infinity, NaN) is reported by the next readback as core's `InvalidArgumentError`. Default
   * `'f32'`: float32 throughout.
   */
  matmulPrecision?: MatmulPrecision;
}

/**
 * Creates a WebGPU backend: finds an adapter (or uses the given one), requests a device with the limits
 * the kernels need, and reports the adapter in `adapterInfo`. Throws {@link WebGPUUnavailableError}
 * (saying how to get an adapter) when there is none.
 */
export async function createWebGPUBackend(options: WebGPUBackendOptions = {}): Promise<WebGPUBackend> {
  let device = options.device;
  let adapter = options.adapter;
  const ownsDevice = device === undefined;
  const gpu = options.gpu ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!device) {
    if (!adapter) {
      if (!gpu) throw new WebGPUUnavailableError('there is no navigator.gpu and no `gpu` option was given');
      adapter = await requestAdapter(gpu, options);
      if (!adapter)
        throw new WebGPUUnavailableError(
          `requestAdapter(${JSON.stringify({ featureLevel: options.featureLevel, powerPreference: options.powerPreference })}) returned no adapter`,
        );
    }
    device = await requestDevice(adapter);
  }
  // A given device reports its adapter through `device.adapterInfo` where the implementation has it.
  const adapterInfo = describeAdapter(adapter ?? { info: (device as { adapterInfo?: GPUAdapterInfo }).adapterInfo }, options.backendLabel);
  const wgsl = (gpu as { wgslLanguageFeatures?: ReadonlySet<string> } | undefined)?.wgslLanguageFeatures;
  const subgroupIdBuiltin = (options.useSubgroupId ?? true) && wgsl?.has('subgroup_id') === true;
  const features = new Set<string>();
  for (const f of device.features as unknown as Iterable<string>) features.add(f);
  const dev = device;
  return new WebGPUBackend({
    device: dev,
    adapterInfo,
    // Dawn destroys its instance when the GPU object is collected: keep it alive with the backend.
    retain: [options.gpu, adapter],
    features,
    subgroupIdBuiltin,
    ...(options.useSubgroups !== undefined ? { useSubgroups: options.useSubgroups } : {}),
    ...(options.poolCapBytes !== undefined ? { poolCapBytes: options.poolCapBytes } : {}),
    ...(options.matmulPrecision !== undefined ? { matmulPrecision: options.matmulPrecision } : {}),
    ...(ownsDevice ? { onDispose: () => dev.destroy() } : {}),
  });
}
