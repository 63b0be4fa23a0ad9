/**
 * The core conformance suite on both kernel builds — relaxed SIMD (fused multiply-add) and plain SIMD —
 * on one thread and on two (a worker over the shared memory).
 */
import { createCpuBackend } from '@reformer/core';
import { backendConformance } from '@reformer/core/testing';
import { createWasm } from './setup.js';

backendConformance('wasm (relaxed-simd)', () => createWasm({ kernels: 'relaxed-simd' }), { reference: () => createCpuBackend() });
backendConformance('wasm (simd)', () => createWasm({ kernels: 'simd' }), { reference: () => createCpuBackend() });
backendConformance('wasm (relaxed-simd, 2 threads)', () => createWasm({ kernels: 'relaxed-simd', threads: 2 }), {
  reference: () => createCpuBackend(),
});
backendConformance('wasm (simd, 2 threads)', () => createWasm({ kernels: 'simd', threads: 2 }), { reference: () => createCpuBackend() });
