import { beforeAll, expect, it } from 'vitest';
import { gradients, tidy, type Tensor } from '@reformer/core';
import { LSHSelfAttention } from '@reformer/lsh';
import { ReformerAttention, ReformerModelWithLMHead } from '../src/index.js';
import { describeOnBackends, expectClose, get, loadFixture, toTensor, type Fixture } from './helpers.js';

// Hugging Face's ReformerModelWithLMHead (fixture tiny-lsh-causal, docs/verification.md): 2 causal
// LSH layers, 1 hash round, 8 buckets, chunk 8, batch 2 × 64 tokens, hidden 32, axial [8, 8] × [16, 16], relu feed-forward, vocab 40.
describeOnBackends('tiny-lsh-causal: parity with Hugging Face', () => {
  let fx: Fixture;
  let model: ReformerModelWithLMHead;
  let ids: Tensor;
  let rotations: Tensor[];

  beforeAll(async () => {
    fx = await loadFixture('tiny-lsh-causal');
    model = new ReformerModelWithLMHead(fx.config, { seed: 7 });
    model.loadStateDict(fx.weights);
    ids = toTensor(get(fx.io, 'input_ids'));
    rotations = [0, 1].map((i) => toTensor(get(fx.rotations, `layers.${i}.rotations`)));
  });

  it('loads the Hugging Face state dict by name, with nothing missing or unexpected', () => {
    expect(new Set(model.stateDict().keys())).toEqual(new Set(fx.weights.keys()));
  });

  it('every intermediate: embeddings, both reversible streams after each layer, buckets', () => {
    tidy(() => {
      const x = model.reformer.embeddings.forward(ids);
      expectClose(x.dataSync(), get(fx.io, 'embeddings').values, 1e-5, 0, 'embeddings');
      let [x1, x2] = [x, x];
      for (let i = 0; i < 2; i++) {
        const block = model.reformer.encoder.layers.get(i);
        [x1, x2] = block.forward(x1, x2, { rotations });
        expectClose(x1.dataSync(), get(fx.io, `layers.${i}.attn_output`).values, 1e-5, 0, `layers.${i}.attn_output`);
        expectClose(x2.dataSync(), get(fx.io, `layers.${i}.hidden_states`).values, 1e-5, 0, `layers.${i}.hidden_states`);
        const attention = block.f as ReformerAttention;
        const buckets = (attention.attention as LSHSelfAttention).lastBuckets!;
        expect([...buckets.dataSync()], `layers.${i}.buckets`).toEqual([...get(fx.io, `layers.${i}.buckets`).values]);
      }
    });
  });

  it('final hidden states, logits and loss', () => {
    tidy(() => {
      expectClose(model.hiddenStates(ids, { rotations }).dataSync(), get(fx.io, 'hidden_states').values, 1e-5, 0, 'hidden_states');
      expectClose(model.forward(ids, { rotations }).dataSync(), get(fx.io, 'logits').values, 1e-5, 0, 'logits');
      expectClose(model.loss(ids, { rotations }).dataSync(), get(fx.io, 'loss').values, 1e-5, 0, 'loss');
    });
  });

  for (const reversible of [true, false]) {
    it(`the gradient of every parameter (${reversible ? 'reversible backward' : 'plain residual backward'})`, () => {
      model.reformer.reversible = reversible;
      const named = [...model.namedParameters()];
      tidy(() => {
        const { value, grads } = gradients(
          () => model.loss(ids, { rotations }),
          named.map(([, p]) => p),
        );
        expectClose(value.dataSync(), get(fx.io, 'loss').values, 1e-5, 0, 'loss');
        named.forEach(([name], i) => expectClose(grads[i]!.dataSync(), get(fx.io, `grad.${name}`).values, 1e-4, 1e-3, `grad.${name}`));
      });
      model.reformer.reversible = true;
    });
  }
});
