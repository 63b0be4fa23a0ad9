// The one-line model: its config mapping, and that it trains and generates at lengths that are not
// multiples of the chunk.
import { describe, expect, it } from 'vitest';
import { Adam } from '@reformer/core';
import { chooseNumBuckets } from '@reformer/lsh';
import {
  ReformerConfigError,
  ReformerForMaskedLM,
  ReformerModelWithLMHead,
  createReformerLM,
  generate,
  maxLength,
  reformerLMConfig,
  train,
  type TrainBatch,
} from '../src/index.js';
import { randomIds } from './helpers.js';

describe('reformerLMConfig', () => {
  it('maps the options to a Hugging Face config that covers maxSeqLen with a fixed bucket count', () => {
    for (const maxSeqLen of [1, 7, 64, 100, 1000, 4096, 65_536]) {
      const c = reformerLMConfig({ vocabSize: 64, maxSeqLen });
      expect(c.attn_layers).toEqual(Array(6).fill('lsh'));
      expect([c.hidden_size, c.num_attention_heads, c.attention_head_size, c.feed_forward_size]).toEqual([256, 8, 32, 1024]);
      expect(maxLength(c)).toBeGreaterThanOrEqual(maxSeqLen);
      expect(maxLength(c)).toBeLessThan(2 * maxSeqLen + 2 * Math.sqrt(maxSeqLen) + 2);
      expect(c.axial_pos_embds_dim[0] + c.axial_pos_embds_dim[1]).toBe(256);
      const padded = Math.ceil(maxSeqLen / 64) * 64;
      expect(c.num_buckets).toEqual(chooseNumBuckets(Math.max(padded, 65), 64, maxLength(c)));
      expect(c.is_decoder).toBe(true);
      expect(c.lsh_num_chunks_after).toBe(0);
    }
  });

  it('repeats an attention pattern over the depth and honours every option', () => {
    const c = reformerLMConfig({
      vocabSize: 10,
      maxSeqLen: 300,
      dim: 48,
      depth: 5,
      heads: 3,
      dimHead: 20,
      attention: ['local', 'lsh'],
      bucketSize: 32,
      nHashes: 2,
      causal: false,
      ffMult: 2,
      dropout: 0.1,
      activation: 'relu',
      ffChunkSize: 16,
    });
    expect(c.attn_layers).toEqual(['local', 'lsh', 'local', 'lsh', 'local']);
    expect([c.hidden_size, c.num_attention_heads, c.attention_head_size, c.feed_forward_size]).toEqual([48, 3, 20, 96]);
    expect([c.lsh_attn_chunk_length, c.local_attn_chunk_length, c.num_hashes]).toEqual([32, 32, 2]);
    expect([c.is_decoder, c.hidden_dropout_prob, c.hidden_act, c.chunk_size_feed_forward]).toEqual([false, 0.1, 'relu', 16]);
  });

  it('reports every bad option at once in a ReformerConfigError', () => {
    try {
      reformerLMConfig({ vocabSize: 0, maxSeqLen: 1.5, dim: 30, heads: 4, attention: ['lsh', 'dense' as 'lsh'] });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ReformerConfigError);
      const problems = (e as ReformerConfigError).problems.join('\n');
      expect(problems).toMatch(/vocabSize must be a positive integer, got 0/);
      expect(problems).toMatch(/maxSeqLen must be a positive integer, got 1.5/);
      expect(problems).toMatch(/dim \/ heads must be a positive integer \(or give dimHead\), got 7.5/);
      expect(problems).toMatch(/attention must be/);
    }
  });
});

describe('createReformerLM', () => {
  const small = { vocabSize: 16, maxSeqLen: 50, dim: 32, depth: 2, heads: 2, bucketSize: 8, nHashes: 2, dropout: 0 } as const;

  it('builds the causal LM by default and the masked LM with causal: false', () => {
    const lm = createReformerLM(small, { seed: 1 });
    const mlm = createReformerLM({ ...small, causal: false }, { seed: 1 });
    expect(lm).toBeInstanceOf(ReformerModelWithLMHead);
    expect(mlm).toBeInstanceOf(ReformerForMaskedLM);
    lm.dispose();
    mlm.dispose();
  });

  it('trains (loss falls) and generates at lengths that are not multiples of the chunk', async () => {
    const model = createReformerLM(small, { seed: 2 });
    const optimizer = new Adam(model.namedParameters(), { lr: 1e-2 });
    // A repeating pattern of 45 tokens (45 is not a multiple of the chunk 8).
    const row = Array.from({ length: 45 }, (_, i) => 1 + ((i * 5) % 11));
    const batch: TrainBatch = { batchSize: 2, length: 45, ids: Int32Array.from([...row, ...row]) };
    const losses: number[] = [];
    await train({ model, optimizer, data: () => batch, steps: 40, clipNorm: 1, onProgress: (p) => void losses.push(p.loss) });
    expect(losses[losses.length - 1]!).toBeLessThan(0.5 * losses[0]!);
    // Prompt 5 + 40 new = 45 positions; with and without the cache.
    const prompt = [Array.from(randomIds(3, 5, 1, 16))];
    const cached = await generate(model, prompt, { maxNewTokens: 40, temperature: 0, seed: 1 });
    const uncached = await generate(model, prompt, { maxNewTokens: 40, temperature: 0, seed: 1, cache: false });
    expect(cached[0]).toHaveLength(45);
    expect(cached[0]!.every((t) => Number.isInteger(t) && t >= 0 && t < 16)).toBe(true);
    // Stacked LSH layers: the first generated token always matches the re-run (see generate).
    expect(cached[0]![5]).toBe(uncached[0]![5]);
    // The model learnt the pattern: greedy continuation of its own training row follows it.
    const learnt = await generate(model, [row.slice(0, 20)], { maxNewTokens: 10, temperature: 0, seed: 1 });
    expect(learnt[0]!.slice(20)).toEqual(row.slice(20, 30));
    model.dispose();
    optimizer.dispose();
  });
});
