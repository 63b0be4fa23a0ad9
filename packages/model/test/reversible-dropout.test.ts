import { describe, expect, it } from 'vitest';
import { gradients, memory, seedScope, tensor, tidy } from '@reformer/core';
import { ReformerModelWithLMHead } from '../src/index.js';
import { expectClose, randomIds, tinyConfig } from './helpers.js';

describe('the reversible stack replays dropout and buckets in its backward', () => {
  it('with hidden and local-attention dropout, reversible gradients equal plain backprop under the same seed', () => {
    const model = new ReformerModelWithLMHead(
      tinyConfig({
        attn_layers: ['lsh', 'local', 'lsh'],
        num_hashes: 2,
        hidden_dropout_prob: 0.2,
        local_attention_probs_dropout_prob: 0.2,
        chunk_size_feed_forward: 8,
        chunk_size_lm_head: 8,
      }),
      { seed: 3 },
    );
    const ids = tensor(randomIds(5, 2 * 30, 0, 24), [2, 30], 'int32');
    const params = model.parameters();
    const run = (reversible: boolean) =>
      tidy(() => {
        model.reformer.reversible = reversible;
        const { value, grads } = seedScope(99, () => gradients(() => model.loss(ids), params));
        return { loss: value.dataSync()[0]!, grads: grads.map((g) => g.dataSync().slice()) };
      });
    const plain = run(false);
    const reversible = run(true);
    const again = run(true);
    expect(reversible.loss).toBe(plain.loss);
    reversible.grads.forEach((g, i) => expectClose(g, plain.grads[i]!, 2e-5, 1e-3, `grad ${i}`));
    expect(again.grads).toEqual(reversible.grads); // deterministic for a seed
    // Dropout is active: another seed gives another loss.
    const other = tidy(() => seedScope(100, () => model.loss(ids).dataSync()[0]!));
    expect(other).not.toBe(plain.loss);
    const before = memory().liveBytes;
    run(true);
    expect(memory().liveBytes).toBe(before);
    model.dispose();
  });

  it('with LSH attention-probability dropout (fused kernel) and a padding mask, reversible gradients equal plain backprop under the same seed', () => {
    const model = new ReformerModelWithLMHead(
      tinyConfig({ attn_layers: ['lsh', 'lsh', 'local'], num_hashes: 2, lsh_attention_probs_dropout_prob: 0.3, hidden_dropout_prob: 0.1 }),
      { seed: 4 },
    );
    const ids = tensor(randomIds(6, 2 * 28, 0, 24), [2, 28], 'int32');
    const attentionMask = tensor(
      Int32Array.from({ length: 2 * 28 }, (_, i) => (i >= 28 + 24 ? 0 : 1)),
      [2, 28],
      'int32',
    );
    const params = model.parameters();
    const run = (reversible: boolean, seed = 7) =>
      tidy(() => {
        model.reformer.reversible = reversible;
        const { value, grads } = seedScope(seed, () => gradients(() => model.loss(ids, { attentionMask }), params));
        return { loss: value.dataSync()[0]!, grads: grads.map((g) => g.dataSync().slice()) };
      });
    const plain = run(false);
    const reversible = run(true);
    expect(reversible.loss).toBe(plain.loss);
    reversible.grads.forEach((g, i) => expectClose(g, plain.grads[i]!, 2e-5, 1e-3, `grad ${i}`));
    // The attention dropout is active: with fixed rotations and no other dropout, the same weights get
    // other gradients of the attention value projections with rate 0.3 than with rate 0.
    const fixed = (rate: number) =>
      new ReformerModelWithLMHead(
        tinyConfig({ attn_layers: ['lsh', 'lsh'], num_hashes: 2, hash_seed: 5, lsh_attention_probs_dropout_prob: rate }),
        { seed: 4 },
      );
    const [dropped, kept] = [fixed(0.3), fixed(0)];
    const valueGrads = (m: ReformerModelWithLMHead) => {
      const values = [...m.namedParameters()].filter(([name]) => name.endsWith('self_attention.value.weight')).map(([, p]) => p);
      expect(values.length).toBe(2);
      return tidy(() => seedScope(7, () => gradients(() => m.loss(ids, { attentionMask }), values)).grads.map((g) => g.dataSync().slice()));
    };
    const [gd, gk] = [valueGrads(dropped), valueGrads(kept)];
    let diff = 0;
    let norm = 0;
    gd.forEach((g, i) =>
      g.forEach((x, j) => {
        diff += Math.abs(x - gk[i]![j]!);
        norm += Math.abs(gk[i]![j]!);
      }),
    );
    expect(diff / norm).toBeGreaterThan(0.1);
    dropped.dispose();
    kept.dispose();
    const before = memory().liveBytes;
    run(true);
    expect(memory().liveBytes).toBe(before);
    for (const t of [ids, attentionMask]) t.dispose();
    model.dispose();
  });
});
