import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, Linear, Module, ShapeMismatchError, dispose, memory, randomNormal, type Tensor } from '@reformer/core';
import { ReversibleBlock, ReversibleSequence, mergeHalves } from '../src/index.js';
import { Mlp } from './helpers.js';

/** A sub-layer that changes the last axis (d → d + 1). */
class Widen extends Module {
  readonly dense: Linear;
  constructor(d: number) {
    super();
    this.dense = this.addModule('dense', new Linear({ inFeatures: d, outFeatures: d + 1, seed: 1 }));
  }
  forward(x: Tensor): Tensor {
    return this.dense.forward(x);
  }
}

describe('bad input', () => {
  for (const reversible of [true, false]) {
    const mode = reversible ? 'reversible' : 'non-reversible';
    it(`${mode}: halves of different shapes → ShapeMismatchError naming both shapes`, () => {
      const seq = new ReversibleSequence([new ReversibleBlock(new Mlp(4, 8, 0, 1), new Mlp(4, 8, 0, 2))], { reversible });
      const a = randomNormal([2, 3, 4], { seed: 1 });
      const b = randomNormal([2, 5, 4], { seed: 2 });
      try {
        expect(() => seq.forward(a, b)).toThrow(ShapeMismatchError);
        expect(() => seq.forward(a, b)).toThrow(/\[2, 3, 4\].*\[2, 5, 4\]/);
      } finally {
        dispose([a, b]);
        seq.dispose();
      }
    });

    for (const which of ['f', 'g'] as const) {
      it(`${mode}: a ${which} that changes the shape → ShapeMismatchError naming the block and both shapes, nothing leaked`, () => {
        const ok = (): Mlp => new Mlp(4, 8, 0.1, 3);
        const bad = new ReversibleBlock(which === 'f' ? new Widen(4) : ok(), which === 'g' ? new Widen(4) : ok());
        const seq = new ReversibleSequence([new ReversibleBlock(ok(), ok()), new ReversibleBlock(ok(), ok()), bad], { reversible });
        const x1 = randomNormal([2, 3, 4], { seed: 1 });
        const x2 = randomNormal([2, 3, 4], { seed: 2 });
        const before = memory();
        try {
          let caught: unknown;
          try {
            seq.forward(x1, x2);
          } catch (err) {
            caught = err;
          }
          expect(caught).toBeInstanceOf(ShapeMismatchError);
          const message = (caught as Error).message;
          expect(message).toContain(`block 2: ${which} changed the shape`);
          expect(message).toContain('[2, 3, 4]');
          expect(message).toContain('[2, 3, 5]');
          expect(memory().liveTensors).toBe(before.liveTensors);
          expect(memory().liveBytes).toBe(before.liveBytes);
        } finally {
          dispose([x1, x2]);
          seq.dispose();
        }
      });
    }
  }

  it('ReversibleBlock.forward checks shapes too', () => {
    const block = new ReversibleBlock(new Widen(4), new Mlp(4, 8, 0, 1));
    const x = randomNormal([1, 2, 4], { seed: 1 });
    const y = randomNormal([1, 2, 3], { seed: 1 });
    try {
      expect(() => block.forward(x, x)).toThrow(/f changed the shape of its input from \[1, 2, 4\] to \[1, 2, 5\]/);
      expect(() => block.forward(x, y)).toThrow(ShapeMismatchError);
    } finally {
      dispose([x, y]);
      block.dispose();
    }
  });

  it('invalid construction and arguments → InvalidArgumentError', () => {
    expect(() => new ReversibleSequence([{} as unknown as ReversibleBlock])).toThrow(InvalidArgumentError);
    expect(() => new ReversibleBlock({} as unknown as Mlp, new Mlp(2, 2, 0, 1))).toThrow(InvalidArgumentError);
    expect(() => new ReversibleBlock(new Mlp(2, 2, 0, 1), new Mlp(2, 2, 0, 1), { f: 'x', g: 'x' })).toThrow(InvalidArgumentError);
    const empty = new ReversibleSequence([]);
    const x = randomNormal([1, 2], { seed: 1 });
    try {
      expect(() => empty.forward(x, x)).toThrow(InvalidArgumentError);
      expect(() => empty.forward(x, null as unknown as Tensor)).toThrow(InvalidArgumentError);
      expect(() => mergeHalves(x, x, { mode: 'max' as 'mean' })).toThrow(InvalidArgumentError);
    } finally {
      x.dispose();
    }
  });

  it('mergeHalves: halves of different shapes → ShapeMismatchError', () => {
    const a = randomNormal([2, 3], { seed: 1 });
    const b = randomNormal([2, 4], { seed: 1 });
    try {
      expect(() => mergeHalves(a, b)).toThrow(ShapeMismatchError);
      expect(() => mergeHalves(a, b, { mode: 'mean' })).toThrow(ShapeMismatchError);
    } finally {
      dispose([a, b]);
    }
  });
});
