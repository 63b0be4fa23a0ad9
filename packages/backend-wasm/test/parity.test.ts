/**
 * The shared backend parity suite (`@reformer/model/testing`): LSH attention forward and backward, a
 * reversible stack, a training step and a 2-layer Reformer LM trained for three steps give the CPU
 * backend's results on the wasm backend (both kernel builds, on one thread and on two).
 */
import { backendParity } from '@reformer/model/testing';
import { createWasm } from './setup.js';

backendParity('wasm (relaxed-simd)', () => createWasm({ kernels: 'relaxed-simd' }));
backendParity('wasm (simd)', () => createWasm({ kernels: 'simd' }));
backendParity('wasm (relaxed-simd, 2 threads)', () => createWasm({ kernels: 'relaxed-simd', threads: 2 }));
backendParity('wasm (simd, 2 threads)', () => createWasm({ kernels: 'simd', threads: 2 }));
