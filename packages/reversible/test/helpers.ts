import {
  Dropout,
  dispose,
  gather,
  replayable,
  tensor,
  LayerNorm,
  Linear,
  Module,
  concat,
  gelu,
  gradients,
  randomNormal,
  seedScope,
  tidy,
  type Tensor,
} from '@reformer/core';
import { expect } from 'vitest';
import { ReversibleBlock, ReversibleSequence } from '../src/index.js';

/** LayerNorm → Linear → gelu → Dropout → Linear: a small feed-forward-like sub-layer. */
export class Mlp extends Module {
  readonly layer_norm: LayerNorm;
  readonly dense: Linear;
  readonly dropout: Dropout;
  readonly output: Linear;

  constructor(d: number, hidden: number, rate: number, seed: number) {
    super();
    this.layer_norm = this.addModule('layer_norm', new LayerNorm({ dim: d }));
    this.dense = this.addModule('dense', new Linear({ inFeatures: d, outFeatures: hidden, seed }));
    this.dropout = this.addModule('dropout', new Dropout({ rate }));
    this.output = this.addModule('output', new Linear({ inFeatures: hidden, outFeatures: d, seed: seed + 1 }));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => this.output.forward(this.dropout.forward(gelu(this.dense.forward(this.layer_norm.forward(x))))));
  }
}

/**
 * A layer whose forward gathers positions at indices drawn from its own generator (not the seed
 * stream), through `replayable()` unless `useReplay` is off. Only replay makes a recompute see the
 * forward's indices.
 */
export class RandomGather extends Module {
  readonly dense: Linear;
  state = 1;
  draws = 0;
  constructor(
    d: number,
    seed: number,
    readonly useReplay = true,
  ) {
    super();
    this.dense = this.addModule('dense', new Linear({ inFeatures: d, outFeatures: d, seed }));
  }
  #draw(batch: number, length: number): Tensor {
    this.draws++;
    const idx = new Int32Array(batch * length);
    for (let i = 0; i < idx.length; i++) {
      this.state = (Math.imul(this.state, 1103515245) + 12345) >>> 0;
      idx[i] = (this.state >>> 8) % length;
    }
    return tensor(idx, [batch, length], 'int32');
  }
  forward(x: Tensor): Tensor {
    const [batch, length] = x.shape as [number, number, number];
    return tidy(() => {
      const idx = this.useReplay ? replayable(() => this.#draw(batch, length)) : this.#draw(batch, length);
      return this.dense.forward(gather(x, idx, 1));
    });
  }
}

/** `n` blocks of two MLPs. */
export function mlpStack(n: number, d: number, hidden: number, rate: number, seed = 1): ReversibleSequence {
  const blocks: ReversibleBlock[] = [];
  for (let i = 0; i < n; i++) {
    blocks.push(new ReversibleBlock(new Mlp(d, hidden, rate, seed + 10 * i), new Mlp(d, hidden, rate, seed + 10 * i + 5)));
  }
  return new ReversibleSequence(blocks);
}

/** Host copy of a tensor. */
export function host(t: Tensor): Float32Array {
  return Float32Array.from(t.dataSync());
}

export interface RunResult {
  out: Float32Array;
  grads: Float32Array[];
}

/**
 * `concat(y1, y2)` of `seq` (in its current mode) on halves (x1, x2) under `seedScope(seed)`, and its
 * gradients w.r.t. [x1, x2, ...params] for the cotangent `dy`. The caller owns the returned tensors.
 */
export function stackGradients<O>(
  seq: ReversibleSequence<O>,
  x1: Tensor,
  x2: Tensor,
  dy: Tensor,
  params: readonly Tensor[],
  seed: number,
  options?: () => O,
) {
  return gradients(
    () =>
      seedScope(seed, () => {
        const [y1, y2] = seq.forward(x1, x2, options?.());
        return concat([y1, y2], -1);
      }),
    [x1, x2, ...params],
    dy,
  );
}

/**
 * Runs `seq` (in its current mode) under `seedScope(seed)` on halves (x1, x2), with a fixed random
 * cotangent on concat(y1, y2), and returns the output and the gradients w.r.t. [x1, x2, ...params].
 */
export function runWithGrads<O>(seq: ReversibleSequence<O>, x1: Tensor, x2: Tensor, dy: Tensor, options?: () => O, seed = 1234): RunResult {
  const params = [...seq].flatMap((b) => b.gradientParameters());
  return tidy(() => {
    const { value, grads } = stackGradients(seq, x1, x2, dy, params, seed, options);
    const r = { out: host(value), grads: grads.map(host) };
    value.dispose();
    for (const g of grads) g.dispose();
    return r;
  });
}

/** Max over elements of |a − b| / (atol + rtol·|b|); ≤ 1 means close. */
export function closeness(a: Float32Array, b: Float32Array, rtol = 1e-5, atolScale = 1e-6): number {
  if (a.length !== b.length) return Infinity;
  let scale = 0;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  const atol = atolScale * Math.max(scale, 1e-30);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const r = Math.abs(a[i]! - b[i]!) / (atol + rtol * Math.abs(b[i]!));
    if (!(r <= worst)) worst = Number.isNaN(r) ? Infinity : r;
  }
  return worst;
}

/** Random input halves and cotangent for a [batch, length, d] problem. */
export function problem(batch: number, length: number, d: number, seed = 7): { x1: Tensor; x2: Tensor; dy: Tensor } {
  return {
    x1: randomNormal([batch, length, d], { seed }),
    x2: randomNormal([batch, length, d], { seed: seed + 1 }),
    dy: randomNormal([batch, length, 2 * d], { seed: seed + 2 }),
  };
}

export function compareModes<O>(
  seq: ReversibleSequence<O>,
  batch: number,
  length: number,
  d: number,
  options?: () => O,
): { rev: RunResult; ref: RunResult } {
  const { x1, x2, dy } = problem(batch, length, d);
  try {
    seq.reversible = false;
    const ref = runWithGrads(seq, x1, x2, dy, options);
    seq.reversible = true;
    const rev = runWithGrads(seq, x1, x2, dy, options);
    return { rev, ref };
  } finally {
    dispose([x1, x2, dy]);
  }
}

export function expectSame(rev: RunResult, ref: RunResult): void {
  expect(closeness(rev.out, ref.out)).toBeLessThanOrEqual(1);
  expect(rev.grads.length).toBe(ref.grads.length);
  rev.grads.forEach((g, i) => {
    const c = closeness(g, ref.grads[i]!);
    if (!(c <= 1)) throw new Error(`gradient #${i} differs: closeness ${c}`);
  });
}
