/**
 * The shared backend parity suite (`@reformer/model/testing`): LSH attention forward and backward, a
 * reversible stack, a training step and a 2-layer Reformer LM trained for three steps give the CPU
 * backend's results on the wasm backend (both kernel builds).
 */
import { backendParity } from '@reformer/model/testing';
import { createWasm } from './setup.js';

backendParity('wasm (relaxed-simd)', () => createWasm({ kernels: 'relaxed-simd' }));
backendParity('wasm (simd)', () => createWasm({ kernels: 'simd' }));
