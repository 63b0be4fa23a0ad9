/**
 * The conformance suite again with `sizes: 'full'` (more and larger random cases: matmul 129×65×127,
 * argSort rows of 257, ...) on both adapters — still small enough for Mesa's software renderers
 * (about 10 s on llvmpipe through OpenGL ES, 6 s on lavapipe).
 */
import { createCpuBackend } from '@reformer/core';
import { backendConformance } from '@reformer/core/testing';
import { createTestBackend, TEST_ADAPTERS } from './setup.js';

for (const adapter of TEST_ADAPTERS) {
  backendConformance(`webgpu (${adapter}, full sizes)`, () => createTestBackend(adapter), {
    reference: () => createCpuBackend(),
    indexErrors: 'readback',
    sizes: 'full',
  });
}
