import { describe, expect, it } from 'vitest';
import { concat, dispose, gradients, seedScope, tidy } from '@reformer/core';
import { closeness, compareModes, expectSame, mlpStack, problem, runWithGrads } from './helpers.js';
import { duplicate } from '../src/index.js';

describe('reversible vs non-reversible (MLP blocks, dropout on)', () => {
  for (const depth of [1, 3, 12]) {
    it(`${depth} block(s): same outputs and every input and parameter gradient`, () => {
      const seq = mlpStack(depth, 16, 32, 0.2, 100 + depth);
      try {
        const { rev, ref } = compareModes(seq, 2, 24, 16);
        expect(rev.grads.length).toBe(2 + depth * 2 * 6);
        expectSame(rev, ref);
        // dropout is really on: a different outer seed changes the output
        const { x1, x2, dy } = problem(2, 24, 16);
        const other = runWithGrads(seq, x1, x2, dy, undefined, 999);
        dispose([x1, x2, dy]);
        expect(closeness(other.out, ref.out)).toBeGreaterThan(1);
      } finally {
        seq.dispose();
      }
    });
  }

  it('duplicated input: gradient w.r.t. x sums both halves, equal in both modes', () => {
    const seq = mlpStack(3, 8, 16, 0.1, 5);
    const { x1: x, dy } = problem(1, 10, 8, 3);
    const run = (): Float32Array[] =>
      tidy(() => {
        const { value, grads } = gradients(
          () =>
            seedScope(9, () => {
              const [a, b] = duplicate(x);
              const [y1, y2] = seq.forward(a, b);
              return concat([y1, y2], -1);
            }),
          [x, ...seq.parameters()],
          dy,
        );
        value.dispose();
        return grads.map((g) => Float32Array.from(g.dataSync()));
      });
    seq.reversible = false;
    const ref = run();
    seq.reversible = true;
    const rev = run();
    ref.forEach((g, i) => expect(closeness(rev[i]!, g)).toBeLessThanOrEqual(1));
    dispose([x, dy]);
    seq.dispose();
  });
});
