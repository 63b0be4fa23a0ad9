#!/usr/bin/env node
// Classifying long documents with ReformerForSequenceClassification, within a memory budget that
// full attention cannot meet at the same length.
//
// The task (generated here, seeded): a document of `--length` tokens starts with a query token A or B
// (position 0, the only position the classification head reads); exactly one of A and B appears once
// more, somewhere in the second half of the document; everything else is filler. Label 1 if the token
// planted far back is the document's own first token, else 0. Position 0 must find the planted token
// thousands of positions away and compare it with itself: local attention cannot see that far, and LSH
// attention with shared query/key puts equal tokens in the same bucket.
//
// The memory budget: the CPU backend is created with `maxAllocationBytes` = `--budget-mib`, the bound
// of any single allocation. Full attention needs one [length, length] block of logits per head and
// document (Hugging Face's dense attention keeps batch × heads of them per layer for the backward); the
// library refuses it before allocating (AllocationTooLargeError), which the script shows, while the
// Reformer trains under the same bound. The script also reports the peak of all tensors alive at once
// during a training step.
//
// Run after `pnpm --filter @reformer/model build`, from packages/model:
//   node examples/long-documents.mjs                       # 1024 tokens, batch 2, 200 steps, 3 MiB bound
//   node examples/long-documents.mjs --length 8192 --steps 120 --budget-mib 128
//   node examples/long-documents.mjs --length 256 --steps 80 --batch 2 --budget-mib 0.2   # about a minute
import { parseArgs } from 'node:util';
import {
  Adam,
  AllocationTooLargeError,
  clipGradNorm,
  createCpuBackend,
  gradients,
  memory,
  resetPeak,
  seedScope,
  setBackend,
  registerBackend,
  tensor,
  tidy,
} from '@reformer/core';
import { ReformerForSequenceClassification } from '@reformer/model';

const { values: args } = parseArgs({
  options: {
    length: { type: 'string', default: '1024' },
    steps: { type: 'string', default: '200' },
    batch: { type: 'string', default: '2' },
    lr: { type: 'string', default: '3e-3' },
    'budget-mib': { type: 'string', default: '3' },
    'eval-docs': { type: 'string', default: '64' },
    vocab: { type: 'string', default: '256' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const length = Number(args.length);
const steps = Number(args.steps);
const batch = Number(args.batch);
const budget = Number(args['budget-mib']) * 2 ** 20;
const seed = Number(args.seed);
const log = args.json ? () => {} : (line) => console.log(line);

// One CPU backend whose single allocations may not exceed the budget.
registerBackend('cpu-budget', () => createCpuBackend({ maxAllocationBytes: budget }));
await setBackend('cpu-budget');

// --- the task -------------------------------------------------------------------------------------
const A = 2;
const B = 3;
const FILLER = 4; // fillers are 4 … vocab − 1
const vocab = Number(args.vocab);

/** A seeded xorshift stream of uint32s. */
function stream(s) {
  let x = s >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** `n` documents and their labels: ids int32 [n, length], labels int32 [n]. */
function documents(n, next) {
  const ids = new Int32Array(n * length);
  const labels = new Int32Array(n);
  for (let d = 0; d < n; d++) {
    const row = d * length;
    for (let t = 0; t < length; t++) ids[row + t] = FILLER + (next() % (vocab - FILLER));
    const first = next() % 2 === 0 ? A : B;
    const planted = next() % 2 === 0 ? A : B;
    ids[row] = first;
    ids[row + length / 2 + (next() % (length / 2))] = planted;
    labels[d] = planted === first ? 1 : 0;
  }
  return { ids: tensor(ids, [n, length], 'int32'), labels: tensor(labels, [n], 'int32') };
}

// --- the model ------------------------------------------------------------------------------------
const chunk = 64;
const rows = 2 ** Math.ceil(Math.log2(length) / 2);
const config = {
  attn_layers: ['lsh', 'local'],
  hidden_size: 32,
  num_attention_heads: 2,
  attention_head_size: 16,
  feed_forward_size: 64,
  axial_pos_shape: [rows, length / rows],
  axial_pos_embds_dim: [16, 16],
  axial_norm_std: 0.001, // the task is about which tokens occur, not where: keep positions faint
  initializer_range: 0.18, // ≈ 1/√hidden (Hugging Face's 0.02 is meant for wide models)
  lsh_attn_chunk_length: chunk,
  local_attn_chunk_length: chunk,
  lsh_num_chunks_after: 1, // bidirectional: a query also sees the next chunk of its bucket
  num_buckets: Math.max(2, 2 * 2 ** Math.round(Math.log2(length / chunk))),
  num_hashes: 2,
  vocab_size: vocab,
  is_decoder: false,
  hidden_dropout_prob: 0,
  local_attention_probs_dropout_prob: 0,
  num_labels: 2,
  id2label: { 0: 'different', 1: 'same' },
};
const model = new ReformerForSequenceClassification(config, { seed });
const optimizer = new Adam(model.namedParameters(), { lr: Number(args.lr) });
const params = [...model.parameters()];
log(
  `Reformer (${config.attn_layers.join(' + ')}) on ${length}-token documents, ${model.numParameters()} parameters, budget ${args['budget-mib']} MiB per allocation`,
);

// --- full attention at this length ----------------------------------------------------------------
let fullAttention;
const dense = new ReformerForSequenceClassification({ ...config, attn_layers: ['full', 'local'] }, { seed });
try {
  tidy(() => dense.forward(documents(1, stream(seed)).ids));
  fullAttention = { fits: true };
} catch (e) {
  if (!(e instanceof AllocationTooLargeError)) throw e;
  fullAttention = { fits: false, bytes: e.bytes, limit: e.limit };
  log(
    `Full attention at ${length} tokens: refused, one [${length}, ${length}] block of logits needs ${(e.bytes / 2 ** 20).toFixed(0)} MiB.`,
  );
}
dense.dispose();

// --- training -------------------------------------------------------------------------------------
const next = stream(seed * 7919 + 1);
let peakBytes = 0;
const losses = [];
const started = performance.now();
for (let step = 1; step <= steps; step++) {
  resetPeak();
  const loss = seedScope(step, () =>
    tidy(() => {
      const { ids, labels } = documents(batch, next);
      const { value, grads } = gradients(() => model.loss(ids, { labels }), params);
      optimizer.step(clipGradNorm(grads, 1).grads);
      return value;
    }),
  );
  peakBytes = Math.max(peakBytes, memory().peakBytes);
  losses.push((await loss.data())[0]);
  loss.dispose();
  if (step % 10 === 0 || step === steps) {
    const recent = losses.slice(-10);
    const perStep = (performance.now() - started) / step / 1000;
    log(`step ${step}: loss ${(recent.reduce((a, b) => a + b, 0) / recent.length).toFixed(4)} (${perStep.toFixed(2)} s/step)`);
  }
}

// --- evaluation on unseen documents ---------------------------------------------------------------
model.eval();
const evalNext = stream(seed * 104729 + 3);
let correct = 0;
const evalDocs = Number(args['eval-docs']);
for (let done = 0; done < evalDocs; done += batch) {
  const n = Math.min(batch, evalDocs - done);
  const [pred, truth] = tidy(() => {
    const { ids, labels } = documents(n, evalNext);
    const logits = model.forward(ids);
    return [logits.dataSync(), labels.dataSync()];
  });
  for (let i = 0; i < n; i++) correct += Number((pred[2 * i + 1] > pred[2 * i] ? 1 : 0) === truth[i]);
}
const accuracy = correct / evalDocs;
const firstLoss = losses.slice(0, 10).reduce((a, b) => a + b, 0) / Math.min(10, losses.length);
const lastLoss = losses.slice(-10).reduce((a, b) => a + b, 0) / Math.min(10, losses.length);
const fullBlockBytes = fullAttention.fits ? undefined : fullAttention.bytes;
const report = { length, steps, batch, budgetBytes: budget, peakBytes, fullAttention, firstLoss, lastLoss, accuracy };
log(`Accuracy on ${evalDocs} unseen documents: ${(100 * accuracy).toFixed(1)}% (chance 50%).`);
log(
  `Peak tensor memory of a whole training step (weights, Adam state, activations, gradients): ${(peakBytes / 2 ** 20).toFixed(1)} MiB, ` +
    `every allocation within the ${args['budget-mib']} MiB bound` +
    (fullBlockBytes === undefined
      ? '.'
      : `; one block of full-attention logits alone (one head, one document) is ${(fullBlockBytes / 2 ** 20).toFixed(0)} MiB.`),
);
if (args.json) console.log(JSON.stringify(report));
model.dispose();
optimizer.dispose();
