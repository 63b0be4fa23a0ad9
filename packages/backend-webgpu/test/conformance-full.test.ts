/**
 * The conformance suite again with `sizes: 'full'` (more and larger random cases: matmul 129×65×127,
 * argSort rows of 257, ...) — still small enough for Mesa's llvmpipe (about 10 s).
 */
import { createCpuBackend } from '@reformer/core';
import { backendConformance } from '@reformer/core/testing';
import { createTestBackend } from './setup.js';

backendConformance('webgpu (full sizes)', () => createTestBackend(), { reference: () => createCpuBackend(), indexErrors: 'readback', sizes: 'full' });
