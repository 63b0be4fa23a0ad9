/**
 * The core conformance suite on the WebGPU backend in Node (Dawn; Mesa's llvmpipe through OpenGL ES in
 * CI), with the CPU backend as reference. Out-of-range gather/scatterAdd indices are detected by the
 * kernels and reported by the next readback (a GPU kernel cannot throw).
 */
import { createCpuBackend } from '@reformer/core';
import { backendConformance } from '@reformer/core/testing';
import { createTestBackend } from './setup.js';

backendConformance('webgpu', () => createTestBackend(), { reference: () => createCpuBackend(), indexErrors: 'readback' });
