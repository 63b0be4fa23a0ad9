import { describe, expect, it } from 'vitest';
import { LayerNorm, Module, concat, dispose, ones, pad, tensor, tidy, type Tensor } from '@reformer/core';
import { LSHSelfAttention } from '@reformer/lsh';
import { ReversibleBlock, ReversibleSequence } from '../src/index.js';
import { Mlp, RandomGather, closeness, compareModes, expectSame, runWithGrads, type RunResult } from './helpers.js';

interface MaskOptions {
  mask?: Tensor;
}

/** Pre-LayerNorm LSH attention, as the Reformer's f. */
class LshSubLayer extends Module {
  readonly layer_norm: LayerNorm;
  readonly attention: LSHSelfAttention;
  constructor(d: number, seed: number) {
    super();
    this.layer_norm = this.addModule('layer_norm', new LayerNorm({ dim: d }));
    this.attention = this.addModule(
      'attention',
      new LSHSelfAttention({
        hiddenSize: d,
        numHeads: 2,
        headSize: 8,
        causal: true,
        chunkLength: 8,
        nHashes: 2,
        nBuckets: 4,
        outputDropout: 0.1,
        seed,
      }),
    );
  }
  forward(x: Tensor, options?: MaskOptions): Tensor {
    return tidy(() => this.attention.forward(this.layer_norm.forward(x), options));
  }
}

describe('replay of layer state', () => {
  it('LSH attention as f (causal, 2 hashes, chunk 8, L 32, output dropout), with a mask made inside the differentiated function', () => {
    const d = 16;
    const blocks = [0, 1, 2].map(
      (i) =>
        new ReversibleBlock<MaskOptions>(new LshSubLayer(d, 40 + i), new Mlp(d, 32, 0.1, 60 + i), { f: 'attention', g: 'feed_forward' }),
    );
    const seq = new ReversibleSequence<MaskOptions>(blocks);
    // mask: the last 5 positions of batch entry 1 are padding
    const mask = (): MaskOptions => ({
      mask: tidy(() =>
        concat(
          [
            ones([1, 32], 'int32'),
            pad(ones([1, 27], 'int32'), [
              [0, 0],
              [0, 5],
            ]),
          ],
          0,
        ),
      ),
    });
    try {
      const { rev, ref } = compareModes(seq, 2, 32, d, mask);
      expectSame(rev, ref);
      expect([...seq.namedParameters().keys()]).toContain('0.attention.attention.self_attention.query_key.weight');
      expect([...seq.namedParameters().keys()]).toContain('2.feed_forward.output.weight');
    } finally {
      seq.dispose();
    }
  });

  it('replayable() state is replayed in the recompute, not computed again', () => {
    const d = 8;
    const make = (useReplay: boolean): { seq: ReversibleSequence; layers: RandomGather[] } => {
      const layers = [0, 1, 2, 3].map((i) => new RandomGather(d, 70 + i, useReplay));
      const blocks = [0, 1].map((i) => new ReversibleBlock(layers[2 * i]!, layers[2 * i + 1]!));
      return { seq: new ReversibleSequence(blocks), layers };
    };
    const reset = (layers: RandomGather[]): void =>
      layers.forEach((l, i) => {
        l.state = 1 + i;
        l.draws = 0;
      });

    const n = 2 * 12 * d;
    const x1 = tensor(
      new Float32Array(n).map((_, i) => Math.sin(i)),
      [2, 12, d],
    );
    const x2 = tensor(
      new Float32Array(n).map((_, i) => Math.cos(0.7 * i)),
      [2, 12, d],
    );
    const dy = tensor(
      new Float32Array(2 * n).map((_, i) => Math.sin(0.3 * i)),
      [2, 12, 2 * d],
    );
    const run = (s: ReversibleSequence, ls: RandomGather[], reversible: boolean): RunResult => {
      s.reversible = reversible;
      reset(ls);
      return runWithGrads(s, x1, x2, dy);
    };
    const withReplay = make(true);
    const withoutReplay = make(false);
    try {
      // With replay: reversible == plain, and every draw happened in the forward pass only.
      const ref = run(withReplay.seq, withReplay.layers, false);
      const rev = run(withReplay.seq, withReplay.layers, true);
      expect(withReplay.layers.map((l) => l.draws)).toEqual([1, 1, 1, 1]);
      expectSame(rev, ref);

      // Control: without replayable() the recompute draws again and the gradients differ.
      const ref2 = run(withoutReplay.seq, withoutReplay.layers, false);
      const rev2 = run(withoutReplay.seq, withoutReplay.layers, true);
      expect(withoutReplay.layers.map((l) => l.draws)).toEqual([2, 2, 2, 2]);
      expect(closeness(rev2.out, ref2.out)).toBeLessThanOrEqual(1);
      expect(Math.max(...rev2.grads.map((g, i) => closeness(g, ref2.grads[i]!)))).toBeGreaterThan(1);
    } finally {
      dispose([x1, x2, dy]);
      withReplay.seq.dispose();
      withoutReplay.seq.dispose();
    }
  });
});
