import { afterAll, beforeAll, expect, it } from 'vitest';
import { gradients, tensor, tidy, type Tensor } from '@reformer/core';
import { LSHSelfAttention } from '@reformer/lsh';
import { ReformerAttention, ReformerForSequenceClassification } from '../src/index.js';
import { describeOnBackends, expectClose, get, loadFixture, toTensor, type Fixture } from './helpers.js';

// Hugging Face's ReformerForSequenceClassification (fixture seqcls-mixed, docs/verification.md):
// bidirectional, a local then an LSH layer (2 hash rounds, 8 buckets, chunk 8), gelu, axial [8, 8] × [16, 16], batch 2 × 64 tokens,
// hidden 32, 3 labels, single-label cross-entropy with labels [2, 0].
describeOnBackends('seqcls-mixed: ReformerForSequenceClassification matches Hugging Face', () => {
  let fx: Fixture;
  let model: ReformerForSequenceClassification;
  let ids: Tensor;
  let labels: Tensor;
  let rotations: (Tensor | undefined)[];
  const worst = new Map<string, number>();
  const track = (what: string, err: number): void => void worst.set(what, Math.max(worst.get(what) ?? 0, err));

  beforeAll(async () => {
    fx = await loadFixture('seqcls-mixed');
    model = new ReformerForSequenceClassification(fx.config, { seed: 7 });
    model.loadStateDict(fx.weights);
    ids = toTensor(get(fx.io, 'input_ids'));
    labels = tensor(Int32Array.from(get(fx.io, 'labels').values), [2], 'int32');
    rotations = [undefined, toTensor(get(fx.rotations, 'layers.1.rotations'))];
  });

  afterAll(() => {
    console.info(`seqcls-mixed max |error|: ${[...worst].map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
  });

  it('loads the Hugging Face state dict by name (classifier.dense / classifier.out_proj), nothing missing or unexpected', () => {
    expect(new Set(model.stateDict().keys())).toEqual(new Set(fx.weights.keys()));
    expect(model.numLabels).toBe(3);
    expect(model.config.problem_type).toBe('single_label_classification');
  });

  it('both reversible streams after each layer, and the LSH buckets', () => {
    tidy(() => {
      const x = model.reformer.embeddings.forward(ids);
      track('embeddings', expectClose(x.dataSync(), get(fx.io, 'embeddings').values, 1e-5, 0, 'embeddings'));
      let [x1, x2] = [x, x];
      for (let i = 0; i < 2; i++) {
        const block = model.reformer.encoder.layers.get(i);
        [x1, x2] = block.forward(x1, x2, { rotations });
        track('streams', expectClose(x1.dataSync(), get(fx.io, `layers.${i}.attn_output`).values, 1e-5, 0, `layers.${i}.attn_output`));
        track('streams', expectClose(x2.dataSync(), get(fx.io, `layers.${i}.hidden_states`).values, 1e-5, 0, `layers.${i}.hidden_states`));
      }
      const lsh = (model.reformer.encoder.layers.get(1).f as ReformerAttention).attention as LSHSelfAttention;
      expect([...lsh.lastBuckets!.dataSync()]).toEqual([...get(fx.io, 'layers.1.buckets').values]);
    });
  });

  it('sequence output, pooled activations (tanh of dense at position 0), logits and loss', () => {
    tidy(() => {
      const hidden = model.hiddenStates(ids, { rotations });
      track('hidden_states', expectClose(hidden.dataSync(), get(fx.io, 'hidden_states').values, 1e-5, 0, 'hidden_states'));
      track('pooled', expectClose(model.classifier.pooled(hidden).dataSync(), get(fx.io, 'pooled').values, 1e-5, 0, 'pooled'));
      track('logits', expectClose(model.forward(ids, { rotations }).dataSync(), get(fx.io, 'logits').values, 1e-5, 0, 'logits'));
      track('loss', expectClose(model.loss(ids, { labels, rotations }).dataSync(), get(fx.io, 'loss').values, 1e-5, 0, 'loss'));
    });
  });

  it('changing a logit-relevant weight moves the loss (the comparison is not vacuous)', () => {
    const other = new ReformerForSequenceClassification(fx.config, { seed: 7 });
    other.loadStateDict(fx.weights);
    tidy(() => {
      other.classifier.out_proj.bias!.assign(tensor([0.5, 0, 0]));
      const loss = other.loss(ids, { labels, rotations }).dataSync()[0]!;
      expect(Math.abs(loss - get(fx.io, 'loss').values[0]!)).toBeGreaterThan(1e-3);
    });
    other.dispose();
  });

  for (const reversible of [true, false]) {
    it(`the gradient of every parameter (${reversible ? 'reversible backward' : 'plain residual backward'})`, () => {
      model.reformer.reversible = reversible;
      const named = [...model.namedParameters()];
      expect(named.length).toBe(32);
      tidy(() => {
        const { value, grads } = gradients(
          () => model.loss(ids, { labels, rotations }),
          named.map(([, p]) => p),
        );
        track('loss', expectClose(value.dataSync(), get(fx.io, 'loss').values, 1e-5, 0, 'loss'));
        named.forEach(([name], i) =>
          track('grads', expectClose(grads[i]!.dataSync(), get(fx.io, `grad.${name}`).values, 1e-4, 1e-3, `grad.${name}`)),
        );
      });
      model.reformer.reversible = true;
    });
  }
});
