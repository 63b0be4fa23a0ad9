/**
 * The core conformance suite on the WebGPU backend in Node on both of Mesa's software adapters
 * (llvmpipe through OpenGL ES: the plain kernels; lavapipe through Vulkan: the subgroup variants),
 * with the CPU backend as reference. Out-of-range gather/scatterAdd indices are detected by the
 * kernels and reported by the next readback (a GPU kernel cannot throw).
 */
import { createCpuBackend } from '@reformer/core';
import { backendConformance } from '@reformer/core/testing';
import { createTestBackend, TEST_ADAPTERS } from './setup.js';

for (const adapter of TEST_ADAPTERS) {
  backendConformance(`webgpu (${adapter})`, () => createTestBackend(adapter), {
    reference: () => createCpuBackend(),
    indexErrors: 'readback',
  });
}
