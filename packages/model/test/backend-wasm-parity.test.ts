/**
 * The shared backend parity suite (`@reformer/model/testing`) on `@reformer/backend-wasm`: LSH attention
 * forward and backward, a reversible stack, a training step and a 2-layer Reformer LM trained for three
 * steps give the CPU backend's results on the wasm backend (both kernel builds, on one thread and on two).
 * It lives here, not in backend-wasm, so that backend-wasm needs only core and this package can depend on
 * it (the commands run on it by default).
 */
import { createWasmBackend } from '@reformer/backend-wasm/node';
import { backendParity } from '../src/testing/index.js';

backendParity('wasm (relaxed-simd)', () => createWasmBackend({ kernels: 'relaxed-simd', threads: 1 }));
backendParity('wasm (simd)', () => createWasmBackend({ kernels: 'simd', threads: 1 }));
backendParity('wasm (relaxed-simd, 2 threads)', () => createWasmBackend({ kernels: 'relaxed-simd', threads: 2 }));
backendParity('wasm (simd, 2 threads)', () => createWasmBackend({ kernels: 'simd', threads: 2 }));
