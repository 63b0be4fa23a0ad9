import { describe, expect, it } from 'vitest';
import { memory, tensor, type Tensor } from '@reformer/core';
import { ReformerEncoderDecoder, generateSeq2Seq, type EncoderDecoderConfig } from '../src/index.js';
import { randomIds, tinyConfig } from './helpers.js';

function config(overrides: Partial<EncoderDecoderConfig>): Partial<EncoderDecoderConfig> {
  // Large initial weights: peaked, input-dependent logits.
  return {
    ...tinyConfig({ vocab_size: 20, axial_pos_shape: [8, 8], initializer_range: 0.5, num_hashes: 2 }),
    ...overrides,
  } as Partial<EncoderDecoderConfig>;
}

const source = (rows: number, length: number, seed: number): number[][] =>
  Array.from({ length: rows }, (_, i) => Array.from(randomIds(seed + i, length, 1, 20)));

describe('generateSeq2Seq: the cache gives the tokens of a full decoder re-run', () => {
  const exact: [string, Partial<EncoderDecoderConfig>][] = [
    [
      'LSH + local encoder, local + full decoder (dense cross-attention)',
      { attn_layers: ['lsh', 'local'], decoder_attn_layers: ['local', 'full'] },
    ],
    [
      'full encoder, 3 local decoder layers (odd half-residual chain), query-chunked cross-attention, separate embeddings',
      {
        attn_layers: ['full'],
        decoder_attn_layers: ['local', 'local', 'local'],
        cross_attn_chunk_length: 4,
        share_embeddings: false,
        decoder_vocab_size: 17,
      },
    ],
  ];
  for (const [name, extra] of exact) {
    it(`${name}: greedy and sampled, across the short (≤ chunk) and chunked regimes`, async () => {
      const model = new ReformerEncoderDecoder(config(extra), { seed: 11 });
      const mask = tensor(
        Int32Array.from({ length: 2 * 13 }, (_, i) => (i >= 23 ? 0 : 1)),
        [2, 13],
        'int32',
      );
      for (const sampling of [{ temperature: 0 }, { temperature: 1, topK: 8, topP: 0.9 }]) {
        const src = source(2, 13, 5);
        const cached = await generateSeq2Seq(model, src, { maxNewTokens: 24, seed: 3, attentionMask: mask, ...sampling });
        const uncached = await generateSeq2Seq(model, src, { maxNewTokens: 24, seed: 3, attentionMask: mask, cache: false, ...sampling });
        expect(cached).toEqual(uncached);
        expect(cached[0]!.length).toBe(24);
        // The output depends on the source (the model is not constant).
        expect(new Set(cached.map((r) => r.join(','))).size).toBeGreaterThan(1);
      }
      mask.dispose();
      model.dispose();
    });
  }

  it('a decoder LSH layer: the first token always matches the re-run (later ones usually: the cache keeps earlier states, as generate)', async () => {
    const model = new ReformerEncoderDecoder(config({ attn_layers: ['local'], decoder_attn_layers: ['lsh'] }), { seed: 12 });
    const src = source(3, 9, 2);
    const cached = await generateSeq2Seq(model, src, { maxNewTokens: 12, temperature: 0, seed: 1 });
    const uncached = await generateSeq2Seq(model, src, { maxNewTokens: 12, temperature: 0, seed: 1, cache: false });
    expect(cached.map((r) => r[0])).toEqual(uncached.map((r) => r[0]));
    model.dispose();
  });

  it('the source mask matters, masked source tokens do not; frees what it allocates; restores training mode; stops at eosTokenId', async () => {
    const model = new ReformerEncoderDecoder(config({ attn_layers: ['local'], decoder_attn_layers: ['local'] }), { seed: 13 });
    const src = source(1, 12, 9);
    const masked = (s: number[][]): Tensor => tensor(Int32Array.from(s[0]!.map((_, i) => (i < 8 ? 1 : 0))), [1, 12], 'int32');
    const mask = masked(src);
    const a = await generateSeq2Seq(model, src, { maxNewTokens: 10, temperature: 0, attentionMask: mask });
    const changed = [src[0]!.map((t, i) => (i < 8 ? t : (t % 19) + 1))];
    const b = await generateSeq2Seq(model, changed, { maxNewTokens: 10, temperature: 0, attentionMask: mask });
    expect(b).toEqual(a);
    const unmasked = await generateSeq2Seq(model, changed, { maxNewTokens: 10, temperature: 0 });
    expect(unmasked).not.toEqual(a);
    for (const cache of [true, false]) {
      await generateSeq2Seq(model, src, { maxNewTokens: 6, seed: 2, cache });
      const before = memory();
      await generateSeq2Seq(model, src, { maxNewTokens: 6, seed: 2, cache, attentionMask: mask });
      expect([memory().liveBytes, memory().liveTensors]).toEqual([before.liveBytes, before.liveTensors]);
    }
    expect(model.training).toBe(true);
    const rows = await generateSeq2Seq(model, source(3, 12, 1), { maxNewTokens: 12, seed: 2, eosTokenId: 7, temperature: 1.5 });
    for (const r of rows) {
      const at = r.indexOf(7);
      if (at >= 0) expect(r.slice(at + 1).every((t) => t === model.config.pad_token_id)).toBe(true);
    }
    await expect(generateSeq2Seq(model, [[1, 99]], { maxNewTokens: 2 })).rejects.toThrow(/not a token id/);
    await expect(generateSeq2Seq(model, src, { maxNewTokens: 65 })).rejects.toThrow(/position embeddings cover 64/);
    expect((await generateSeq2Seq(model, src, { maxNewTokens: 64, temperature: 0 }))[0]!.length).toBe(64);
    mask.dispose();
    model.dispose();
  });
});
