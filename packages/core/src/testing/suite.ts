/**
 * `backendConformance`: the one function every backend runs to prove it implements the Backend
 * contract. It declares vitest `describe` blocks; the backends are created in `beforeAll`.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Backend } from '../backend.js';
import { getBackend, setBackend } from '../engine.js';
import { attentionProblems, makeProblem } from './attention.js';
import {
  checkAttentionBackward,
  checkAttentionByPosition,
  checkAttentionDropoutRate,
  checkAttentionFiniteDifference,
  checkAttentionForward,
} from './attention-checks.js';
import { Rng, seedOf } from './cases.js';
import { gradGroups } from './gradients.js';
import { checkForward, checkGradient, resolveTolerance, SuiteContext, type ConformanceTolerance, type Tol } from './harness.js';
import { kernelGroups } from './kernels.js';
import { forEachCollect, leakTests } from './leaks.js';
import { memoryTests } from './memory.js';
import { misuseTests } from './misuse.js';
import { randomStatisticsTests } from './statistics.js';

/** Options of {@link backendConformance}. */
export interface ConformanceOptions {
  /**
   * A reference backend (other backends pass the CPU backend): every op's output on identical
   * inputs is also compared with it, and random values and dropout masks must be bit-identical.
   */
  reference?: () => Backend | Promise<Backend>;
  /** Tolerances (defaults are what the CPU reference meets). */
  tolerance?: ConformanceTolerance;
  /** `small` (default): tiny cases, fit for software GPUs. `full`: more and larger random cases. */
  sizes?: 'small' | 'full';
  /**
   * When an out-of-range `gather` / `scatterAdd` index is reported. `'call'` (default): the op itself
   * throws `InvalidArgumentError`. `'readback'`: for backends whose kernels run asynchronously (WebGPU)
   * and cannot throw, the op returns and the first readback afterwards (`data()`) rejects with the
   * same `InvalidArgumentError` and message; the next readback succeeds again.
   */
  indexErrors?: 'call' | 'readback';
}

/**
 * Declares the conformance suite of a backend: every kernel through its public op against
 * brute-force oracles on random and edge shapes, chunked attention against a dense oracle (forward,
 * analytic backward, finite differences), finite-difference gradients of every differentiable op,
 * leaks, memory accounting and bad-input errors.
 *
 * `createBackend` is called twice in `beforeAll` (the second instance tests the backend-mixing
 * error) and must return a new instance each time. Call it at the top level of a test file:
 *
 * ```ts
 * import { backendConformance } from '@reformer/core/testing';
 * import { createCpuBackend } from '@reformer/core';
 * backendConformance('my-backend', () => createMyBackend(), { reference: () => createCpuBackend() });
 * ```
 */
export function backendConformance(name: string, createBackend: () => Backend | Promise<Backend>, options: ConformanceOptions = {}): void {
  const ctx = new SuiteContext(name, resolveTolerance(options.tolerance), options.sizes === 'full', options.indexErrors ?? 'call');
  describe(`backend conformance: ${name}`, () => {
    let previous: Backend | undefined;
    const owned: Backend[] = [];
    beforeAll(async () => {
      previous = getBackend();
      const backend = await createBackend();
      const second = await createBackend();
      const reference = options.reference ? await options.reference() : undefined;
      for (const b of [backend, second, reference]) if (b && !owned.includes(b)) owned.push(b);
      ctx.init(backend, second, reference);
      await setBackend(backend);
    });
    afterAll(async () => {
      if (previous) await setBackend(previous);
      for (const b of owned) b.dispose?.();
    });

    describe('kernels against brute-force definitions', () => {
      for (const group of kernelGroups()) {
        it(group.name, async () => {
          const cases = group.build(new Rng(seedOf(group.name)), ctx.full);
          await forEachCollect(cases, (c) => checkForward(ctx, c, resolveGroupTol(ctx, group.tol)));
        });
      }
      randomStatisticsTests(ctx);
    });

    describe('chunkedAttention against a dense brute-force oracle', () => {
      const count = options.sizes === 'full' ? 24 : 12;
      it('forward: out and lse', async () => {
        const problems = attentionProblems(new Rng(seedOf('attention forward')), count);
        await forEachCollect(problems, (p) => checkAttentionForward(ctx, p));
      });
      it('backward: dq, dk, dv from dOut and dLse against the analytic gradient', async () => {
        const rng = new Rng(seedOf('attention backward'));
        const problems = attentionProblems(rng, count);
        await forEachCollect(problems, (p) => checkAttentionBackward(ctx, p, rng));
      });
      it('byPosition: q, k, v read by position, forward and gradients per position', async () => {
        const rng = new Rng(seedOf('attention by position'));
        // rounds >= 1: every problem has positions (several slots per position with 2 rounds)
        const problems = attentionProblems(rng, count).map((p, i) => (p.positions ? p : makeProblem(rng, { rounds: 1 + (i % 2) })));
        await forEachCollect(problems, (p) => checkAttentionByPosition(ctx, p, rng));
      });
      it('gradients through out and lse: random-direction finite differences', async () => {
        const rng = new Rng(seedOf('attention finite differences'));
        const problems = attentionProblems(rng, Math.ceil(count / 2));
        await forEachCollect(problems, (p) => checkAttentionFiniteDifference(ctx, p, rng));
      });
      it('dropout on the probabilities: kept fraction ≈ 1 − rate, whole keys kept or dropped, seeded', async () => {
        await checkAttentionDropoutRate(ctx);
      });
    });

    describe('gradients: random-direction finite differences', () => {
      for (const group of gradGroups()) {
        it(group.name, async () => {
          const rng = new Rng(seedOf(group.name));
          const cases = group.build(rng);
          await forEachCollect(cases, (c) => checkGradient(ctx, c, rng));
        });
      }
    });

    describe('leaks', () => leakTests(ctx));
    describe('memory accounting', () => memoryTests(ctx));
    describe('errors on bad input', () => misuseTests(ctx));
  });
}

function resolveGroupTol(ctx: SuiteContext, kind: 'basic' | 'transcendental' | Tol): Tol {
  if (kind === 'basic') return ctx.tol.basic;
  if (kind === 'transcendental') return ctx.tol.transcendental;
  return kind;
}
