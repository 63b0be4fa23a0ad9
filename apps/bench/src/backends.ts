/**
 * How the runner starts a backend, independent of where it runs: the CLI (`node/backends.ts`) and the
 * browser page (`browser/backends.ts`) each supply a {@link BackendStarter}.
 *
 * @module
 */
import type { Backend } from '@reformer/core';
import type { BackendName } from './types.js';

/** A started backend and a line describing it (adapter, tfjs backend, threads). */
export interface StartedBackend {
  backend: Backend;
  info: string;
}

/** Starts a backend by name, or throws an error whose message says why it is unavailable. */
export type BackendStarter = (name: BackendName) => Promise<StartedBackend>;

/** The adapter fields `@reformer/backend-webgpu` reports. */
export interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  backend?: string;
}

/** One line naming a WebGPU adapter. */
export function describeAdapter(info: AdapterInfoLike | undefined, hasTimestamps?: boolean): string {
  if (!info) return 'WebGPU (adapter unknown)';
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((s) => s !== undefined && s !== '');
  const name = parts.length ? [...new Set(parts)].join(' / ') : 'unnamed adapter';
  return `WebGPU: ${name}${info.backend ? ` (${info.backend})` : ''}${hasTimestamps ? ', timestamp queries' : ''}`;
}

/** The message of anything thrown. */
export function reasonOf(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.name;
  return String(err);
}
