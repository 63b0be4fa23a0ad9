/**
 * The Node WebGPU backends of the tests: Dawn on Mesa's two software adapters, which CI installs
 * (tooling/scripts/setup-system.sh):
 * - `opengles`: llvmpipe through Dawn's OpenGL ES backend at the compatibility feature level (no
 *   optional features: every kernel's plain variant);
 * - `vulkan`: lavapipe (Mesa ≥ 24) through Dawn's Vulkan backend at the core feature level, with
 *   `subgroups`, `shader-f16` and `timestamp-query` (the optional variants).
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { createNodeWebGPUBackend, type NodeWebGPUBackendOptions } from '../src/node.js';
import type { WebGPUBackend } from '../src/index.js';

/** The adapters every adapter-independent test runs on. */
export const TEST_ADAPTERS = ['opengles', 'vulkan'] as const;
export type TestAdapter = (typeof TEST_ADAPTERS)[number];

/** A new backend on `adapter`; fails (never skips) when the machine does not have it. */
export async function createTestBackend(
  adapter: TestAdapter = 'opengles',
  options: Omit<NodeWebGPUBackendOptions, 'flags'> = {},
): Promise<WebGPUBackend> {
  return createNodeWebGPUBackend({ ...options, flags: [`backend=${adapter}`] });
}

/**
 * One `describe` block per adapter of {@link TEST_ADAPTERS}, with a backend created in `beforeAll` and
 * disposed in `afterAll`; `body` defines the tests and reaches the backend through `gpu()`.
 */
export function describeEachAdapter(body: (gpu: () => WebGPUBackend, adapter: TestAdapter) => void): void {
  for (const adapter of TEST_ADAPTERS) {
    describe(adapter, () => {
      let backend: WebGPUBackend | undefined;
      beforeAll(async () => {
        backend = await createTestBackend(adapter);
      });
      afterAll(() => backend?.dispose());
      body(() => backend!, adapter);
    });
  }
}
