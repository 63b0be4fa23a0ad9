/**
 * Finding an adapter and a device: requests exactly the limits the kernels need (up to what the
 * adapter offers), and the optional features they can use.
 */
import { WebGPUUnavailableError } from './errors.js';
import type { WebGPUAdapterInfo } from './backend.js';

/** Limits the kernels rely on, requested explicitly (capped at the adapter's values). */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
] as const;

/** The most storage buffers one kernel binds (the attention backward); the WebGPU default limit. */
const MIN_STORAGE_BUFFERS = 8;

/** Optional features used when present. */
const OPTIONAL_FEATURES: GPUFeatureName[] = ['timestamp-query', 'shader-f16', 'subgroups' as GPUFeatureName];

/** The adapter's identity as plain strings. */
export function describeAdapter(adapter: { info?: GPUAdapterInfo | undefined }, backend?: string): WebGPUAdapterInfo {
  const info = adapter.info;
  const out: WebGPUAdapterInfo = {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
  };
  if (backend !== undefined) out.backend = backend;
  return out;
}

/** Requests a device from `adapter` with the limits and features the backend uses. */
export async function requestDevice(adapter: GPUAdapter): Promise<GPUDevice> {
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number | undefined>)[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  const storage = requiredLimits['maxStorageBuffersPerShaderStage'] ?? 0;
  if (storage < MIN_STORAGE_BUFFERS) {
    throw new WebGPUUnavailableError(
      `the adapter offers ${storage} storage buffers per shader stage; the kernels need ${MIN_STORAGE_BUFFERS}`,
    );
  }
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  try {
    return await adapter.requestDevice({ requiredLimits, requiredFeatures });
  } catch (err) {
    throw new WebGPUUnavailableError(`requestDevice failed (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** Asks `gpu` for an adapter; undefined when it has none. */
export async function requestAdapter(
  gpu: GPU,
  options: { powerPreference?: GPUPowerPreference; featureLevel?: 'core' | 'compatibility' },
): Promise<GPUAdapter | undefined> {
  const req: GPURequestAdapterOptions & { featureLevel?: string } = {};
  if (options.powerPreference) req.powerPreference = options.powerPreference;
  if (options.featureLevel) req.featureLevel = options.featureLevel;
  try {
    return (await gpu.requestAdapter(req)) ?? undefined;
  } catch {
    return undefined;
  }
}
