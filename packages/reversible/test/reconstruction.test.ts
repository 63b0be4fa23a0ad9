import { describe, expect, it } from 'vitest';
import { Module, dispose, type Tensor } from '@reformer/core';
import { ReversibleBlock, ReversibleSequence } from '../src/index.js';
import { Mlp, closeness, host, problem, runWithGrads } from './helpers.js';

/** Wraps a sub-layer and records a host copy of every input it sees, by phase. */
class Recorder extends Module {
  readonly inner: Mlp;
  phase: 'forward' | 'backward' = 'forward';
  readonly seen: { forward: Float32Array[]; backward: Float32Array[] } = { forward: [], backward: [] };
  constructor(inner: Mlp) {
    super();
    this.inner = this.addModule('inner', inner);
  }
  forward(x: Tensor): Tensor {
    this.seen[this.phase].push(host(x));
    return this.inner.forward(x);
  }
}

describe('reconstruction', () => {
  it('the inputs reconstructed in the backward pass equal the forward inputs, block by block', () => {
    const depth = 5;
    const d = 16;
    const fs = Array.from({ length: depth }, (_, i) => new Recorder(new Mlp(d, 32, 0.2, 200 + i)));
    const gs = Array.from({ length: depth }, (_, i) => new Recorder(new Mlp(d, 32, 0.2, 300 + i)));
    const reconstructed = new Map<number, [Float32Array, Float32Array]>();
    const seq = new ReversibleSequence(
      fs.map((f, i) => new ReversibleBlock(f, gs[i]!)),
      {
        onReconstruct: (i, x1, x2) => {
          reconstructed.set(i, [host(x1), host(x2)]);
        },
      },
    );
    const { x1, x2, dy } = problem(2, 20, d, 11);
    // Record forward inputs, then switch every recorder to 'backward' as soon as the forward is done:
    // the last g of the forward marks the switch.
    const lastG = gs[depth - 1]!;
    const origForward = lastG.forward.bind(lastG);
    lastG.forward = (x: Tensor): Tensor => {
      const y = origForward(x);
      if (lastG.phase === 'forward') for (const r of [...fs, ...gs]) r.phase = 'backward';
      return y;
    };
    const x1Host = host(x1);
    try {
      runWithGrads(seq, x1, x2, dy);
      expect(reconstructed.size).toBe(depth);
      for (let i = 0; i < depth; i++) {
        const [r1, r2] = reconstructed.get(i)!;
        // forward inputs of block i: x2_i is what f_i saw; x1_i is the input x1 or y1 of block i − 1 (what g_{i−1} saw)
        const want1 = i === 0 ? x1Host : gs[i - 1]!.seen.forward[0]!;
        const want2 = fs[i]!.seen.forward[0]!;
        expect(closeness(r1, want1)).toBeLessThanOrEqual(1);
        expect(closeness(r2, want2)).toBeLessThanOrEqual(1);
        // and the recompute ran each sub-layer once on (reconstructed) inputs equal to the forward's
        expect(fs[i]!.seen.backward.length).toBe(1);
        expect(gs[i]!.seen.backward.length).toBe(1);
        expect(closeness(fs[i]!.seen.backward[0]!, want2)).toBeLessThanOrEqual(1);
        expect(closeness(gs[i]!.seen.backward[0]!, gs[i]!.seen.forward[0]!)).toBeLessThanOrEqual(1);
      }
      // a wrong reconstruction would be seen: the inputs of different blocks do differ
      expect(closeness(fs[0]!.seen.forward[0]!, fs[1]!.seen.forward[0]!)).toBeGreaterThan(1);
    } finally {
      dispose([x1, x2, dy]);
      seq.dispose();
    }
  });
});
