import { describe, expect, it } from 'vitest';
import {
  Linear,
  Module,
  add,
  concat,
  dispose,
  gradients,
  matmul,
  memory,
  randomNormal,
  seedScope,
  tidy,
  transpose,
  type Tensor,
} from '@reformer/core';
import { ReversibleBlock, ReversibleSequence } from '../src/index.js';
import { Mlp, closeness, problem } from './helpers.js';

interface Ctx {
  context: Tensor;
}

/** A sub-layer that reads a context `[batch, m, d]` from the options: `x + softmax-free mix (x · cᵀ) · c`, projected. */
class ContextMix extends Module {
  readonly dense: Linear;
  constructor(d: number, seed: number) {
    super();
    this.dense = this.addModule('dense', new Linear({ inFeatures: d, outFeatures: d, seed }));
  }
  forward(x: Tensor, options?: Ctx): Tensor {
    return tidy(() => {
      const c = options!.context;
      const h = this.dense.forward(x);
      return matmul(matmul(h, transpose(c, [0, 2, 1])), c);
    });
  }
}

/** Blocks (context mix, MLP) and (MLP, context mix): the context enters both f and g. */
function stack(reversible: boolean): ReversibleSequence<Ctx> {
  const blocks = [
    new ReversibleBlock<Ctx>(new ContextMix(8, 1), new Mlp(8, 16, 0.1, 2)),
    new ReversibleBlock<Ctx>(new Mlp(8, 16, 0.1, 4), new ContextMix(8, 6)),
    new ReversibleBlock<Ctx>(new ContextMix(8, 8), new ContextMix(8, 9)),
  ];
  return new ReversibleSequence<Ctx>(blocks, { reversible, contextKeys: ['context'] });
}

function run(seq: ReversibleSequence<Ctx>, x1: Tensor, x2: Tensor, c0: Tensor, dy: Tensor): Float32Array[] {
  return tidy(() => {
    const { value, grads } = gradients(
      () =>
        seedScope(5, () => {
          // The context is computed inside the differentiated function (as an encoder output would be).
          const context = add(c0, c0);
          const [y1, y2] = seq.forward(x1, x2, { context });
          return concat([y1, y2], -1);
        }),
      [c0, x1, x2, ...seq.parameters()],
      dy,
    );
    value.dispose();
    return grads.map((g) => Float32Array.from(g.dataSync()));
  });
}

describe('ReversibleSequence: contextKeys (differentiable option tensors)', () => {
  it('the context gradient (summed over the blocks that read it) and every other gradient equal plain backprop, without leaks', () => {
    const { x1, x2, dy } = problem(2, 6, 8, 3);
    const c0 = randomNormal([2, 5, 8], { seed: 4, std: 0.3 });
    const rev = stack(true);
    const ref = stack(false);
    ref.loadStateDict(rev.stateDict());
    const before = memory().liveTensors;
    const a = run(rev, x1, x2, c0, dy);
    expect(memory().liveTensors).toBe(before);
    const b = run(ref, x1, x2, c0, dy);
    expect(a.length).toBe(b.length);
    a.forEach((g, i) => expect(closeness(g, b[i]!), `gradient ${i}`).toBeLessThanOrEqual(1));
    // The context really matters: its gradient is not zero.
    expect(Math.max(...a[0]!.map(Math.abs))).toBeGreaterThan(1e-3);
    dispose([x1, x2, dy, c0]);
    rev.dispose();
    ref.dispose();
  });

  it('without contextKeys the context gets no gradient through the reversible stack (why the option exists)', () => {
    const { x1, x2, dy } = problem(1, 4, 8, 7);
    const c0 = randomNormal([1, 3, 8], { seed: 2 });
    const seq = stack(true);
    const plain = new ReversibleSequence<Ctx>([...seq], {});
    const g = run(plain, x1, x2, c0, dy);
    expect(Math.max(...g[0]!.map(Math.abs))).toBe(0);
    dispose([x1, x2, dy, c0]);
    seq.dispose();
  });
});
