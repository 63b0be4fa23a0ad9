/**
 * The shared parity suite on the CPU backend with every fused kernel removed: LSH attention, a
 * reversible stack, a training step and a Reformer LM run on core's composites (built from the
 * primitives) and give the full CPU backend's results.
 */
import { createCpuBackend } from '@reformer/core';
import { withoutFusedKernels } from '@reformer/core/testing';
import { backendParity } from '../src/testing/index.js';

backendParity('cpu, primitives only', () => withoutFusedKernels(createCpuBackend()));
