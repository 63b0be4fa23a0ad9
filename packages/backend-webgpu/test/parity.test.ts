/**
 * The shared backend parity suite (`@reformer/model/testing`): LSH attention forward and backward, a
 * reversible stack, a training step and a 2-layer Reformer LM trained for three steps give the CPU
 * backend's results on WebGPU (Dawn in Node: Mesa's software renderer in CI).
 */
import { backendParity } from '@reformer/model/testing';
import { createTestBackend } from './setup.js';

backendParity('webgpu', createTestBackend);
