#!/usr/bin/env node
// Teaching the encoder–decoder Reformer to reverse sequences, then checking it exactly.
//
// The task (reversalBatch, seeded): a source of `--length` random tokens; the target is the source
// reversed. Output position t must read source position length − 1 − t, so the decoder's
// encoder–decoder attention has to learn a precise alignment across the whole sequence; nothing short
// of that gives the exact answer. Training stops early once the teacher-forced loss is below
// `--target-loss`; then `--eval` held-out sequences are decoded greedily with the decoding cache and
// compared token by token with their reversal.
//
// Run after `pnpm --filter @reformer/model build`, from packages/model:
//   node examples/reverse-sequences.mjs                  # 64 tokens: 359 steps, 32/32 exact
//   node examples/reverse-sequences.mjs --length 256     # 622 steps (about 18 minutes on a busy CPU), 32/32 exact;
//                                                        # the loss stays near ln(vocab − 1) until the alignment is found
import { parseArgs } from 'node:util';
import { Adam, gradients, memory, tidy } from '@reformer/core';
import { ReformerEncoderDecoder, generateSeq2Seq, reversalBatch } from '@reformer/model';

const { values: args } = parseArgs({
  options: {
    length: { type: 'string', default: '64' },
    vocab: { type: 'string', default: '10' },
    batch: { type: 'string', default: '16' },
    steps: { type: 'string', default: '5000' },
    lr: { type: 'string', default: '0.003' },
    'target-loss': { type: 'string', default: '0.002' },
    eval: { type: 'string', default: '32' },
    seed: { type: 'string', default: '1' },
    'axial-std': { type: 'string', default: '0.1' },
  },
});
const L = Number(args.length);
const V = Number(args.vocab);
const batchSize = Number(args.batch);
// Axial position embeddings over a [16, L / 16] grid (or [4, L / 4] for short sequences).
const rows = L >= 64 ? 16 : 4;
if (L % rows !== 0) throw new Error(`--length must be a multiple of ${rows}`);

const model = new ReformerEncoderDecoder(
  {
    attn_layers: ['lsh', 'local'], // encoder: LSH then local self-attention
    decoder_attn_layers: ['local'], // decoder: causal local self-attention, then attention over the encoder output
    hidden_size: 32,
    num_attention_heads: 2,
    attention_head_size: 16,
    feed_forward_size: 64,
    axial_pos_shape: [rows, L / rows],
    axial_pos_embds_dim: [16, 16],
    lsh_attn_chunk_length: 16,
    local_attn_chunk_length: 16,
    num_buckets: Math.max(2, 2 * Math.round(L / 32)),
    cross_attn_chunk_length: 64, // encoder–decoder attention: at most 64 × L logits at once
    chunk_size_feed_forward: 64,
    vocab_size: V,
    hidden_dropout_prob: 0,
    local_attention_probs_dropout_prob: 0,
    initializer_range: 0.1,
    axial_norm_std: Number(args['axial-std']),
  },
  { seed: Number(args.seed) },
);
console.log(`reverse ${L} tokens, vocabulary ${V}: ${model.numParameters()} parameters`);
const optimizer = new Adam(model.namedParameters(), { lr: Number(args.lr) });
const start = Date.now();
let step = 0;
let loss = Infinity;
for (; step < Number(args.steps) && loss > Number(args['target-loss']); step++) {
  loss = tidy(() => {
    const { source, labels } = reversalBatch({ batchSize, length: L, vocabSize: V, seed: 1_000 + step });
    const { value, grads } = gradients(() => model.loss(source, { labels }), model.parameters());
    optimizer.step(grads);
    return value.dataSync()[0];
  });
  if (step % 50 === 0)
    console.log(
      `step ${step}  loss ${loss.toFixed(4)}  ${((Date.now() - start) / 1000).toFixed(0)} s  peak ${(memory().peakBytes / 2 ** 20).toFixed(1)} MiB`,
    );
}
console.log(`trained: ${step} steps, loss ${loss.toFixed(4)}, ${((Date.now() - start) / 1000).toFixed(0)} s`);

const n = Number(args.eval);
const { source, labels } = reversalBatch({ batchSize: n, length: L, vocabSize: V, seed: 7 });
const src = await source.data();
const want = await labels.data();
const rowsIn = Array.from({ length: n }, (_, b) => Array.from(src.subarray(b * L, (b + 1) * L)));
const t0 = Date.now();
const out = await generateSeq2Seq(model, rowsIn, { maxNewTokens: L, temperature: 0 });
let exact = 0;
let tokens = 0;
out.forEach((r, b) => {
  let ok = 0;
  r.forEach((t, i) => (ok += t === want[b * L + i] ? 1 : 0));
  tokens += ok;
  exact += ok === L ? 1 : 0;
});
console.log(
  `held-out: ${exact}/${n} sequences exactly reversed, ${((100 * tokens) / (n * L)).toFixed(2)}% of tokens (cached greedy decoding, ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
);
source.dispose();
labels.dispose();
