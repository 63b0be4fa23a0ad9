/** The Node WebGPU backend of the tests: Dawn on whatever adapter the machine has (Mesa in CI). */
import { createNodeWebGPUBackend } from '../src/node.js';
import type { WebGPUBackend } from '../src/index.js';

/** A new backend; fails (never skips) when no adapter can be found. */
export async function createTestBackend(): Promise<WebGPUBackend> {
  return createNodeWebGPUBackend();
}
