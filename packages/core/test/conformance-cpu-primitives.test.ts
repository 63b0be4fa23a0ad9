import { createCpuBackend } from '../src/cpu/index.js';
import { backendConformance, withoutFusedKernels } from '../src/testing/index.js';

// The CPU backend with every fused kernel removed: the ops layer runs core's composites (built from
// the primitives) and must pass the whole suite, also compared op by op with the full CPU backend.
backendConformance('cpu, primitives only', () => withoutFusedKernels(createCpuBackend()), { reference: () => createCpuBackend() });
