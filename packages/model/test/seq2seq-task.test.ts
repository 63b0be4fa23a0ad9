import { describe, expect, it } from 'vitest';
import { Adam, gradients, tidy } from '@reformer/core';
import { ReformerEncoderDecoder, generateSeq2Seq, reversalBatch } from '../src/index.js';

describe('ReformerEncoderDecoder learns to reverse sequences', () => {
  it('exactly: every held-out sequence of 16 tokens reversed by greedy cached decoding (LSH + local encoder, local decoder)', async () => {
    const L = 16;
    const V = 10;
    const model = new ReformerEncoderDecoder(
      {
        attn_layers: ['lsh', 'local'],
        decoder_attn_layers: ['local'],
        hidden_size: 32,
        num_attention_heads: 2,
        attention_head_size: 16,
        feed_forward_size: 64,
        axial_pos_shape: [4, 4],
        axial_pos_embds_dim: [16, 16],
        lsh_attn_chunk_length: 8,
        local_attn_chunk_length: 8,
        num_buckets: 4,
        vocab_size: V,
        hidden_dropout_prob: 0,
        local_attention_probs_dropout_prob: 0,
        initializer_range: 0.1,
      },
      { seed: 1 },
    );
    const optimizer = new Adam(model.namedParameters(), { lr: 3e-3 });
    // Train until the teacher-forced loss is small (about 130 steps), at most 400 steps.
    let loss = Infinity;
    let step = 0;
    for (; step < 400 && loss > 0.02; step++) {
      loss = tidy(() => {
        const { source, labels } = reversalBatch({ batchSize: 16, length: L, vocabSize: V, seed: 1000 + step });
        const { value, grads } = gradients(() => model.loss(source, { labels }), model.parameters());
        optimizer.step(grads);
        return value.dataSync()[0]!;
      });
    }
    const { source, labels } = reversalBatch({ batchSize: 32, length: L, vocabSize: V, seed: 7 });
    const src = (await source.data()) as Int32Array;
    const want = (await labels.data()) as Int32Array;
    const rows = Array.from({ length: 32 }, (_, b) => Array.from(src.subarray(b * L, (b + 1) * L)));
    const out = await generateSeq2Seq(model, rows, { maxNewTokens: L, temperature: 0 });
    const exact = out.filter((r, b) => r.every((t, i) => t === want[b * L + i])).length;
    console.log({ steps: step, loss, exact });
    expect(exact).toBe(32);
    source.dispose();
    labels.dispose();
    optimizer.dispose();
    model.dispose();
  }, 300_000);
});
