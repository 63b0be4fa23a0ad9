import { describe, expect, it } from 'vitest';
import { dispose, gradients, memory, ones, sum, tidy } from '@reformer/core';
import { ReversibleBlock, ReversibleSequence } from '../src/index.js';
import { Mlp, RandomGather, mlpStack, problem, stackGradients } from './helpers.js';

function snapshot(): { tensors: number; bytes: number } {
  const m = memory();
  return { tensors: m.liveTensors, bytes: m.liveBytes };
}

describe('no leaks', () => {
  for (const reversible of [true, false]) {
    const mode = reversible ? 'reversible' : 'non-reversible';
    it(`${mode}: live tensors and bytes back to baseline after forward + gradients, forward alone, and an unused output`, () => {
      // MLP blocks, and one block whose sub-layers record replayable() state
      const seq = new ReversibleSequence(
        [...mlpStack(3, 8, 16, 0.2, 9), new ReversibleBlock(new RandomGather(8, 1), new Mlp(8, 16, 0.2, 2))],
        {
          reversible,
        },
      );
      const { x1, x2, dy } = problem(2, 6, 8, 1);
      const params = seq.parameters();
      try {
        const base = snapshot();
        // forward + gradients (the gradients are the caller's: dispose them)
        const { value, grads } = stackGradients(seq, x1, x2, dy, params, 1);
        expect(grads).toHaveLength(2 + params.length);
        dispose([value, grads]);
        expect(snapshot()).toEqual(base);

        // forward alone (no tape): only the two outputs stay alive
        const [y1, y2] = seq.forward(x1, x2);
        expect(memory().liveTensors).toBe(base.tensors + 2);
        dispose([y1, y2]);
        expect(snapshot()).toEqual(base);

        // under a tape, but the loss does not use the outputs: the backward never reaches the stack
        const unused = gradients(() => {
          seq.forward(x1, x2, { mask: ones([1]) });
          return sum(x1);
        }, [x1, ...params]);
        dispose([unused.value, unused.grads]);
        expect(snapshot()).toEqual(base);

        // inside tidy
        tidy(() => {
          seq.forward(x1, x2);
        });
        expect(snapshot()).toEqual(base);
      } finally {
        dispose([x1, x2, dy]);
        seq.dispose();
      }
    });
  }
});
