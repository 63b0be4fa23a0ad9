import { describe, expect, it } from 'vitest';
import { add, clone, dispose, gradients, memory, mul, randomNormal, scalar, seedScope, tensor, tidy, type Tensor } from '@reformer/core';
import { ReformerConfigError, ReformerEncoderDecoder, type EncoderDecoderConfig } from '../src/index.js';
import { randomIds, tinyConfig } from './helpers.js';

/** A tiny encoder–decoder: 2 encoder layers, 3 decoder layers (an odd chain of 9 half-residuals). */
function config(overrides: Partial<EncoderDecoderConfig> = {}): Partial<EncoderDecoderConfig> {
  return {
    ...tinyConfig({ vocab_size: 12, initializer_range: 0.3 }),
    attn_layers: ['lsh', 'local'],
    decoder_attn_layers: ['local', 'lsh', 'full'],
    ...overrides,
  } as Partial<EncoderDecoderConfig>;
}

const ids = (seed: number, batch: number, length: number, vocab = 12): Tensor =>
  tensor(randomIds(seed, batch * length, 1, vocab), [batch, length], 'int32');

/** Loss and every parameter gradient (host copies) under a fixed seed stream (same LSH rotations). */
function lossAndGrads(
  model: ReformerEncoderDecoder,
  src: Tensor,
  labels: Tensor,
  mask?: Tensor,
): { loss: number; grads: Map<string, Float32Array> } {
  const named = model.namedParameters();
  return tidy(() => {
    const { value, grads } = gradients(
      () => seedScope(5, () => model.loss(src, { labels, ...(mask ? { attentionMask: mask } : {}) })),
      [...named.values()],
    );
    const out = new Map([...named.keys()].map((name, i) => [name, Float32Array.from(grads[i]!.dataSync())]));
    return { loss: value.dataSync()[0]!, grads: out };
  });
}

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / Math.max(den, 1e-12);
}

describe('ReformerEncoderDecoder: gradients', () => {
  it("the reversible backward of both stacks gives plain backprop's loss and every parameter gradient (masked source, odd decoder chain)", () => {
    const model = new ReformerEncoderDecoder(config({ cross_attn_chunk_length: 4, hidden_dropout_prob: 0.1 }), { seed: 3 });
    const src = ids(1, 2, 20);
    const labels = tensor(
      Int32Array.from(randomIds(2, 2 * 12, 1, 12)).map((v, i) => (i % 12 >= 10 ? -100 : v)),
      [2, 12],
      'int32',
    );
    const mask = tensor(
      Int32Array.from({ length: 40 }, (_, i) => (i >= 37 ? 0 : 1)),
      [2, 20],
      'int32',
    );
    lossAndGrads(model, src, labels, mask); // the LSH layers now hold their last buckets
    const before = memory().liveTensors;
    const rev = lossAndGrads(model, src, labels, mask);
    expect(memory().liveTensors).toBe(before);
    model.reversible = false;
    const plain = lossAndGrads(model, src, labels, mask);
    expect(Math.abs(rev.loss - plain.loss)).toBeLessThan(1e-5);
    // Dropout is really on (the evaluation-mode loss differs).
    model.eval();
    const evalLoss = tidy(() => seedScope(5, () => model.loss(src, { labels, attentionMask: mask })).dataSync()[0]!);
    model.train();
    expect(Math.abs(evalLoss - rev.loss)).toBeGreaterThan(1e-4);
    expect(rev.grads.size).toBe(plain.grads.size);
    // Every parameter of both stacks, the shared table, the cross-attention and the head gets a gradient.
    for (const [name, g] of plain.grads) {
      expect(relErr(rev.grads.get(name)!, g), name).toBeLessThan(1e-4);
      if (name !== 'lm_head.bias') expect(Math.max(...g.map(Math.abs)), `${name} has a gradient`).toBeGreaterThan(0); // the bias is unused (lm_head_bias: false)
    }
    expect([...rev.grads.keys()].filter((n) => n.includes('cross_attention.key.weight')).length).toBe(3);
    expect(rev.grads.has('decoder.embeddings.word_embeddings.weight')).toBe(false); // shared with the encoder's
    dispose([src, labels, mask]);
    model.dispose();
  });

  it('matches central finite differences along a random direction (full and local attention, GELU: smooth; separate embeddings)', () => {
    const model = new ReformerEncoderDecoder(
      config({
        attn_layers: ['full', 'local'],
        decoder_attn_layers: ['local', 'full'],
        share_embeddings: false,
        decoder_vocab_size: 10,
        hidden_act: 'gelu',
      }),
      { seed: 4 },
    );
    const src = ids(3, 1, 9);
    const labels = ids(4, 1, 7, 10);
    const params = model.parameters();
    const directions = params.map((p, i) => randomNormal(p.shape, { seed: 100 + i }));
    const lossAt = (t: number): number =>
      tidy(() => {
        const saved = params.map((p) => clone(p));
        params.forEach((p, i) => p.assign(add(saved[i]!, mul(directions[i]!, scalar(t)))));
        const l = model.loss(src, { labels }).dataSync()[0]!;
        params.forEach((p, i) => p.assign(saved[i]!));
        return l;
      });
    const { grads } = tidy(() => {
      const r = gradients(() => model.loss(src, { labels }), params);
      return { grads: r.grads.map((g) => Float32Array.from(g.dataSync())) };
    });
    let analytic = 0;
    grads.forEach((g, i) => {
      const d = directions[i]!.dataSync();
      for (let j = 0; j < g.length; j++) analytic += g[j]! * d[j]!;
    });
    const eps = 1e-3;
    const numeric = (lossAt(eps) - lossAt(-eps)) / (2 * eps);
    expect(Math.abs(analytic - numeric)).toBeLessThan(2e-3 * Math.abs(numeric) + 1e-3);
    expect(Math.abs(numeric)).toBeGreaterThan(1e-2);
    dispose([src, labels, ...directions]);
    model.dispose();
  });

  it('bad configs and calls get named errors', () => {
    expect(() => new ReformerEncoderDecoder(config({ share_embeddings: true, decoder_vocab_size: 7 }))).toThrow(
      /share_embeddings needs one vocabulary/,
    );
    expect(() => new ReformerEncoderDecoder(config({ decoder_attn_layers: ['dense' as never] }))).toThrow(ReformerConfigError);
    const model = new ReformerEncoderDecoder(config(), { seed: 1 });
    const src = ids(1, 2, 8);
    expect(() => model.loss(src, { labels: ids(1, 3, 4) })).toThrow(/labels must be \[batch = 2/);
    expect(() => model.loss(src, {} as never)).toThrow(/options.labels/);
    dispose(src);
    model.dispose();
  });
});
