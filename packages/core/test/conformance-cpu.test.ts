import { createCpuBackend } from '../src/cpu/index.js';
import { backendConformance } from '../src/testing/index.js';

// The CPU reference backend against the suite's independent brute-force definitions.
backendConformance('cpu', () => createCpuBackend());
