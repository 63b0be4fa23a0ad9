/**
 * The shared backend parity suite (`@reformer/model/testing`): LSH attention forward and backward, a
 * reversible stack, a training step and a 2-layer Reformer LM trained for three steps give the CPU
 * backend's results on WebGPU, on both of Mesa's software adapters (Dawn in Node).
 */
import { backendParity } from '@reformer/model/testing';
import { createTestBackend, TEST_ADAPTERS } from './setup.js';

for (const adapter of TEST_ADAPTERS) backendParity(`webgpu (${adapter})`, () => createTestBackend(adapter));
