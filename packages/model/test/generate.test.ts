import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, ShapeMismatchError, memory, tensor, tidy } from '@reformer/core';
import { chooseNumBuckets, type LSHSelfAttention } from '@reformer/lsh';
import { ReformerModelWithLMHead, generate, type ReformerAttention, type ReformerConfig } from '../src/index.js';
import { randomIds, tinyConfig } from './helpers.js';

function config(attn_layers: ReformerConfig['attn_layers'], extra: Partial<ReformerConfig> = {}): Partial<ReformerConfig> {
  // Large initial weights: peaked, input-dependent logits.
  return tinyConfig({ attn_layers, axial_pos_shape: [8, 8], num_hashes: 2, vocab_size: 20, initializer_range: 0.5, ...extra });
}

const prompt = (rows: number, length: number, seed: number): number[][] =>
  Array.from({ length: rows }, (_, i) => Array.from(randomIds(seed + i, length, 0, 20)));

describe('generate: the cache gives the tokens of a full re-run', () => {
  const exact: [string, ReformerConfig['attn_layers'], Partial<ReformerConfig>][] = [
    ['local then LSH (LSH on top)', ['local', 'lsh'], {}],
    ['full then local', ['full', 'local'], {}],
    ['one LSH layer, factorised buckets, 3 rounds', ['lsh'], { num_buckets: [2, 4], num_hashes: 3 }],
    [
      'one local layer with a chunk after (its wrap-around to chunk 0 is not masked by causality)',
      ['local'],
      { local_num_chunks_after: 1 },
    ],
  ];
  for (const [name, layers, extra] of exact) {
    it(`${name}: greedy and sampled, across the short (≤ chunk) and chunked regimes`, async () => {
      const model = new ReformerModelWithLMHead(config(layers, extra), { seed: 11 });
      for (const sampling of [{ temperature: 0 }, { temperature: 1, topK: 8, topP: 0.9 }]) {
        const p = prompt(2, 3, 5);
        const cached = await generate(model, p, { maxNewTokens: 30, seed: 3, ...sampling });
        const uncached = await generate(model, p, { maxNewTokens: 30, seed: 3, cache: false, ...sampling });
        expect(cached).toEqual(uncached);
        expect(cached[0]!.length).toBe(33);
        // The continuation depends on the prompt (the model is not constant).
        expect(new Set(cached.map((r) => r.slice(3).join(','))).size).toBeGreaterThan(1);
      }
      model.dispose();
    });
  }

  it('stacked LSH layers: the first generated token always matches, and most later ones (the cache keeps earlier states, see generate)', async () => {
    const model = new ReformerModelWithLMHead(config(['lsh', 'lsh']), { seed: 12 });
    const p = prompt(2, 10, 9);
    const cached = await generate(model, p, { maxNewTokens: 20, temperature: 0, seed: 1 });
    const uncached = await generate(model, p, { maxNewTokens: 20, temperature: 0, seed: 1, cache: false });
    expect(cached.map((r) => r[10])).toEqual(uncached.map((r) => r[10]));
    model.dispose();
  });

  it('frees what it allocates, leaves the model in its mode, and stops rows at eosTokenId', async () => {
    const model = new ReformerModelWithLMHead(config(['local', 'lsh']), { seed: 13 });
    for (const cache of [true, false]) {
      await generate(model, prompt(3, 2, 1), { maxNewTokens: 12, seed: 2, cache }); // the LSH layer now holds its last buckets
      const before = memory();
      await generate(model, prompt(3, 2, 1), { maxNewTokens: 12, seed: 2, cache });
      expect([memory().liveBytes, memory().liveTensors]).toEqual([before.liveBytes, before.liveTensors]);
    }
    const rows = await generate(model, prompt(3, 2, 1), { maxNewTokens: 12, seed: 2, eosTokenId: 7, temperature: 1.5 });
    expect(model.training).toBe(true);
    for (const r of rows) {
      const at = r.indexOf(7, 2);
      if (at >= 0) expect(r.slice(at + 1).every((t) => t === model.config.pad_token_id)).toBe(true);
    }
    model.dispose();
  });

  it('takes the prompt as an int32 tensor too (read with data())', async () => {
    const model = new ReformerModelWithLMHead(config(['local', 'lsh']), { seed: 18 });
    const p = prompt(2, 4, 7);
    const fromRows = await generate(model, p, { maxNewTokens: 6, temperature: 0, seed: 4 });
    const ids = tensor(Int32Array.from(p.flat()), [2, 4], 'int32');
    expect(await generate(model, ids, { maxNewTokens: 6, temperature: 0, seed: 4 })).toEqual(fromRows);
    ids.dispose();
    model.dispose();
  });

  it('rejects bad input with named errors', async () => {
    const model = new ReformerModelWithLMHead(config(['lsh']), { seed: 14 });
    await expect(generate(model, [[1, 2], [3]], { maxNewTokens: 2 })).rejects.toThrow(ShapeMismatchError);
    await expect(generate(model, [[1, 99]], { maxNewTokens: 2 })).rejects.toThrow(/prompt\[0\]\[1\] = 99/);
    await expect(generate(model, [[1]], { maxNewTokens: 64 })).rejects.toThrow(/position embeddings cover 64/);
    await expect(generate(model, [[1]], { maxNewTokens: 2, temperature: -1 })).rejects.toThrow(InvalidArgumentError);
    await expect(generate(model, [[1]], { maxNewTokens: 2, topP: 0 })).rejects.toThrow(/topP/);
    model.dispose();
  });
});

describe("generate with Hugging Face's default num_buckets: null", () => {
  it('fixes the bucket count the prompt chooses, keeps it (layers and config), and generates as a model built with that count', async () => {
    const auto = new ReformerModelWithLMHead(config(['lsh'], { num_buckets: null }), { seed: 15 });
    const p = prompt(2, 18, 3); // 18 tokens: 5 chunks of 4, padded to 20
    const expected = chooseNumBuckets(20, 4, auto.config.max_position_embeddings);
    const rows = await generate(auto, p, { maxNewTokens: 12, seed: 2 });
    expect(auto.config.num_buckets).toEqual(expected);
    const lsh = (auto.reformer.encoder.layers.get(0).f as ReformerAttention).attention as LSHSelfAttention;
    expect(lsh.nBuckets).toEqual(expected);
    // The same weights under a config that names the count from the start.
    const fixed = new ReformerModelWithLMHead(config(['lsh'], { num_buckets: expected }), { seed: 15 });
    expect(await generate(fixed, p, { maxNewTokens: 12, seed: 2 })).toEqual(rows);
    expect(await generate(fixed, p, { maxNewTokens: 12, seed: 2, cache: false })).toEqual(rows);
    // Kept: a second generation (a longer prompt would choose more) uses the same count.
    await generate(auto, prompt(1, 40, 4), { maxNewTokens: 4, seed: 2 });
    expect(auto.config.num_buckets).toEqual(expected);
    expect(() => lsh.fixNumBuckets(2 * (expected as number))).toThrow(/already fixed/);
    auto.dispose();
    fixed.dispose();
  });

  it('a prompt within one chunk is not hashed: the count is chosen for the whole generated length', async () => {
    const auto = new ReformerModelWithLMHead(config(['lsh'], { num_buckets: null }), { seed: 16 });
    await generate(auto, [[1, 2, 3]], { maxNewTokens: 29, seed: 1 });
    expect(auto.config.num_buckets).toEqual(chooseNumBuckets(32, 4, auto.config.max_position_embeddings));
    auto.dispose();
  });
});

describe('causality and padding', () => {
  it('a causal LM never sees the future: logits at t do not change when tokens after t change (local, full, and LSH layers up to their chunk length)', () => {
    for (const layers of [
      ['local', 'full'],
      ['lsh', 'local'],
    ] as ReformerConfig['attn_layers'][]) {
      const model = new ReformerModelWithLMHead(config(layers, { lsh_attn_chunk_length: 64, hash_seed: 1 }), { seed: 16 });
      model.eval();
      tidy(() => {
        const a = randomIds(1, 40, 0, 20);
        const b = a.slice();
        for (let i = 25; i < 40; i++) b[i] = (a[i]! + 1 + i) % 20;
        const la = model.forward(tensor(a, [1, 40], 'int32')).dataSync();
        const lb = model.forward(tensor(b, [1, 40], 'int32')).dataSync();
        const V = 20;
        expect(Array.from(lb.subarray(0, 25 * V))).toEqual(Array.from(la.subarray(0, 25 * V)));
        expect(Array.from(lb.subarray(25 * V))).not.toEqual(Array.from(la.subarray(25 * V)));
      });
      model.dispose();
    }
  });

  // Padding up to the next multiple of the LSH chunk length is what LSH attention does internally anyway;
  // longer padding moves the round boundaries of the sorted layout, which changes windows (Hugging Face's
  // semantics), so rows of a batch are padded to a common multiple of the chunk length.
  it('a right-padded batch row (attention mask, up to the chunk multiple) gives the logits of the unpadded row', () => {
    for (const layers of [
      ['lsh', 'local'],
      ['full', 'lsh'],
    ] as ReformerConfig['attn_layers'][]) {
      const model = new ReformerModelWithLMHead(config(layers, { hash_seed: 3 }), { seed: 17 });
      model.eval();
      tidy(() => {
        const real = randomIds(2, 21, 1, 20);
        const padded = new Int32Array(24);
        padded.set(real);
        const mask = new Int32Array(24).fill(0);
        mask.fill(1, 0, 21);
        const alone = model.forward(tensor(real, [1, 21], 'int32')).dataSync();
        const batch = model.forward(tensor(padded, [1, 24], 'int32'), { attentionMask: tensor(mask, [1, 24], 'int32') }).dataSync();
        const V = 20;
        let worst = 0;
        for (let i = 0; i < 21 * V; i++) worst = Math.max(worst, Math.abs(batch[i]! - alone[i]!));
        expect(worst, layers.join('+')).toBeLessThan(1e-5);
        // and the loss ignores the padding: equal to the unpadded row's loss
        const la = model.loss(tensor(real, [1, 21], 'int32')).dataSync()[0]!;
        const lb = model.loss(tensor(padded, [1, 24], 'int32'), { attentionMask: tensor(mask, [1, 24], 'int32') }).dataSync()[0]!;
        expect(Math.abs(la - lb)).toBeLessThan(1e-5);
      });
      model.dispose();
    }
  });
});
