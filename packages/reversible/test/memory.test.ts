import { describe, expect, it } from 'vitest';
import { dispose, memory, resetPeak, tidy } from '@reformer/core';
import { mlpStack, problem, stackGradients } from './helpers.js';

/**
 * Peak bytes allocated above the live bytes at the start (parameters and inputs) during one
 * forward + backward: activations, tape, recompute and the gradients themselves.
 */
function peakOf(depth: number, reversible: boolean): number {
  const seq = mlpStack(depth, 32, 32, 0.1, 500);
  seq.reversible = reversible;
  const { x1, x2, dy } = problem(2, 1024, 32, 21);
  const params = seq.parameters();
  try {
    const base = memory().liveBytes;
    resetPeak();
    tidy(() => {
      const { value, grads } = stackGradients(seq, x1, x2, dy, params, 3);
      dispose([value, grads]);
    });
    return memory().peakBytes - base;
  } finally {
    dispose([x1, x2, dy]);
    seq.dispose();
  }
}

describe('memory (CPU backend, exact peak bytes)', () => {
  it('reversible: a 12-block stack peaks at most 1.25× a 1-block stack; non-reversible grows about linearly', () => {
    const rev1 = peakOf(1, true);
    const rev12 = peakOf(12, true);
    const plain1 = peakOf(1, false);
    const plain12 = peakOf(12, false);
    console.log({ rev1, rev12, plain1, plain12, revRatio: rev12 / rev1, plainRatio: plain12 / plain1 });
    expect(rev12).toBeLessThanOrEqual(1.25 * rev1);
    expect(plain12).toBeGreaterThanOrEqual(6 * plain1);
    // and the reversible stack is the smaller one at depth 12
    expect(rev12).toBeLessThan(plain12 / 4);
  });
});
