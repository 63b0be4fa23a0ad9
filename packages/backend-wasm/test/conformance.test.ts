/** The core conformance suite on both kernel builds: relaxed SIMD (fused multiply-add) and plain SIMD. */
import { createCpuBackend } from '@reformer/core';
import { backendConformance } from '@reformer/core/testing';
import { createWasm } from './setup.js';

backendConformance('wasm (relaxed-simd)', () => createWasm({ kernels: 'relaxed-simd' }), { reference: () => createCpuBackend() });
backendConformance('wasm (simd)', () => createWasm({ kernels: 'simd' }), { reference: () => createCpuBackend() });
