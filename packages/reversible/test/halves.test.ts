import { describe, expect, it } from 'vitest';
import { concat, dispose, gradients, sum, tensor } from '@reformer/core';
import { ReversibleBlock, ReversibleSequence, duplicate, mergeHalves } from '../src/index.js';
import { Mlp, host } from './helpers.js';

describe('duplicate and mergeHalves', () => {
  it('duplicate gives two equal halves whose gradients sum into x', () => {
    const x = tensor([1, 2, 3, 4], [2, 2]);
    const [a, b] = duplicate(x);
    expect(a).not.toBe(b);
    expect([...host(a)]).toEqual([1, 2, 3, 4]);
    expect([...host(b)]).toEqual([1, 2, 3, 4]);
    const { value, grads } = gradients(() => {
      const [p, q] = duplicate(x);
      return sum(concat([p, q], -1));
    }, [x]);
    expect([...host(grads[0]!)]).toEqual([2, 2, 2, 2]);
    dispose([x, a, b, value, grads]);
  });

  it("mergeHalves: 'concat' on the last axis (default), 'mean' averages", () => {
    const a = tensor([1, 2, 3, 4], [2, 2]);
    const b = tensor([10, 20, 30, 40], [2, 2]);
    const c = mergeHalves(a, b);
    expect(c.shape).toEqual([2, 4]);
    expect([...host(c)]).toEqual([1, 2, 10, 20, 3, 4, 30, 40]);
    const m = mergeHalves(a, b, { mode: 'mean' });
    expect(m.shape).toEqual([2, 2]);
    expect([...host(m)]).toEqual([5.5, 11, 16.5, 22]);
    dispose([a, b, c, m]);
  });
});

describe('module structure', () => {
  it('children are named f/g by default, or as given (Hugging Face names); blocks are 0, 1, …', () => {
    const plain = new ReversibleBlock(new Mlp(4, 8, 0, 1), new Mlp(4, 8, 0, 2));
    expect([...plain.namedChildren().keys()]).toEqual(['f', 'g']);
    const hf = new ReversibleBlock(new Mlp(4, 8, 0, 1), new Mlp(4, 8, 0, 2), { f: 'attention', g: 'feed_forward' });
    const seq = new ReversibleSequence([plain, hf]);
    const names = [...seq.namedParameters().keys()];
    expect(names).toContain('0.f.layer_norm.weight');
    expect(names).toContain('1.attention.dense.weight');
    expect(names).toContain('1.feed_forward.output.bias');
    expect(seq.length).toBe(2);
    expect(seq.reversible).toBe(true);
    expect(new ReversibleSequence([], { reversible: false }).reversible).toBe(false);
    expect(hf.gradientParameters()).toHaveLength(12);
    seq.dispose();
  });

  it('eval() reaches the sub-layers (dropout off: two calls agree without a seed scope)', () => {
    const seq = new ReversibleSequence([new ReversibleBlock(new Mlp(4, 8, 0.5, 1), new Mlp(4, 8, 0.5, 2))]).eval();
    const x = tensor(
      new Float32Array(8).map((_, i) => i / 8),
      [1, 2, 4],
    );
    const [a1, a2] = seq.forward(x, x);
    const [b1, b2] = seq.forward(x, x);
    expect([...host(a1), ...host(a2)]).toEqual([...host(b1), ...host(b2)]);
    dispose([x, a1, a2, b1, b2]);
    seq.dispose();
  });
});
