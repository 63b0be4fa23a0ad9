import { describe, expect, it } from 'vitest';
import { dispose, gradients, memory, resetPeak, seedScope, tidy } from '@reformer/core';
import { ReformerEncoderDecoder, reversalBatch, type AttentionType } from '../src/index.js';

const L = 1024;

/**
 * Peak bytes above the live bytes at the start (parameters, inputs) during one forward + backward of
 * the teacher-forced loss over L-token sources and targets: activations, tapes, recompute and the
 * parameter gradients themselves (exact, from the CPU backend's accounting).
 */
function peakOf(encoderDepth: number, decoderDepth: number, reversible: boolean): number {
  const layers = (n: number, types: AttentionType[]): AttentionType[] => Array.from({ length: n }, (_, i) => types[i % types.length]!);
  const model = new ReformerEncoderDecoder(
    {
      attn_layers: layers(encoderDepth, ['lsh', 'local']),
      decoder_attn_layers: layers(decoderDepth, ['local']),
      hidden_size: 16,
      num_attention_heads: 2,
      attention_head_size: 8,
      feed_forward_size: 32,
      axial_pos_shape: [32, 32],
      axial_pos_embds_dim: [8, 8],
      lsh_attn_chunk_length: 32,
      local_attn_chunk_length: 32,
      num_buckets: 32,
      cross_attn_chunk_length: 64,
      chunk_size_feed_forward: 128,
      chunk_size_lm_head: 128,
      vocab_size: 12,
      hidden_dropout_prob: 0,
      local_attention_probs_dropout_prob: 0,
    },
    { seed: 1, reversible },
  );
  const { source, labels } = reversalBatch({ batchSize: 1, length: L, vocabSize: 12, seed: 3 });
  const params = model.parameters();
  try {
    const base = memory().liveBytes;
    resetPeak();
    tidy(() => {
      const { value, grads } = gradients(() => seedScope(2, () => model.loss(source, { labels })), params);
      dispose([value, grads]);
    });
    return memory().peakBytes - base;
  } finally {
    dispose([source, labels]);
    model.dispose();
  }
}

describe('ReformerEncoderDecoder: activation memory is flat in the depth of both stacks (CPU backend, exact peak bytes)', () => {
  it(`encoder 1 → 6 layers and decoder 1 → 6 layers at ${L} source and target tokens: reversible peaks within 1.25×; plain residuals grow with depth`, () => {
    const rev = { base: peakOf(1, 1, true), encoder6: peakOf(6, 1, true), decoder6: peakOf(1, 6, true) };
    const plain = { base: peakOf(1, 1, false), encoder6: peakOf(6, 1, false), decoder6: peakOf(1, 6, false) };
    const mib = (b: number) => +(b / 2 ** 20).toFixed(2);
    console.log('peak MiB', {
      reversible: Object.fromEntries(Object.entries(rev).map(([k, v]) => [k, mib(v)])),
      plain: Object.fromEntries(Object.entries(plain).map(([k, v]) => [k, mib(v)])),
    });
    expect(rev.encoder6).toBeLessThanOrEqual(1.25 * rev.base);
    expect(rev.decoder6).toBeLessThanOrEqual(1.25 * rev.base);
    // Without reversibility the same depth costs memory (every layer's activations are kept) ...
    expect(plain.encoder6).toBeGreaterThanOrEqual(1.75 * plain.base);
    expect(plain.decoder6).toBeGreaterThanOrEqual(1.75 * plain.base);
    // ... and at depth 6 the reversible model needs well under half of it.
    expect(rev.encoder6).toBeLessThan(plain.encoder6 / 2.5);
    expect(rev.decoder6).toBeLessThan(plain.decoder6 / 2.5);
  }, 300_000);
});
