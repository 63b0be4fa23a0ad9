/**
 * `@reformer/core/testing` — the backend conformance suite. A backend package runs
 *
 * ```ts
 * import { backendConformance } from '@reformer/core/testing';
 * backendConformance('webgpu', () => createWebGpuBackend(), { reference: () => createCpuBackend() });
 * ```
 *
 * in a vitest test file. The brute-force oracles and case generators are exported too, for
 * backend-specific tests.
 * @packageDocumentation
 */
export { backendConformance, type ConformanceOptions } from './suite.js';
export { withoutFusedKernels } from './primitives-only.js';
export type { ConformanceTolerance, Tol, ForwardCase, GradCase } from './harness.js';
export { SuiteContext, assertClose, checkForward, checkGradient, download, onBackend, upload } from './harness.js';
export { Rng, seedOf } from './cases.js';
export * as oracles from './oracles.js';
export {
  attentionRef,
  attentionBackwardRef,
  makeProblem,
  attentionProblems,
  windowOf,
  type AttentionProblem,
  type ProblemSpec,
  type LseMode,
} from './attention.js';
export type { HostTensor } from './oracles.js';
