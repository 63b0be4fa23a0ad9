import { describe, expect, it } from 'vitest';
import { gradients, serializeSafetensors, sum, tensor, tidy, type HostTensor } from '@reformer/core';
import {
  AxialPositionEmbeddings,
  DEFAULT_CONFIG,
  ReformerConfigError,
  ReformerForMaskedLM,
  ReformerModelWithLMHead,
  loadModel,
  resolveConfig,
  serializeModel,
  type ReformerConfig,
} from '../src/index.js';
import { randomIds, tinyConfig } from './helpers.js';

const small = tinyConfig({ axial_pos_embds_dim: [6, 10], hash_seed: 2, is_decoder: false });

describe('ReformerConfig', () => {
  it("fills in Hugging Face's defaults", () => {
    const c = resolveConfig({});
    expect(c).toEqual({ ...DEFAULT_CONFIG });
    expect(c.attn_layers).toEqual(['local', 'lsh', 'local', 'lsh', 'local', 'lsh']);
    expect([c.hidden_size, c.num_attention_heads, c.attention_head_size, c.feed_forward_size]).toEqual([256, 12, 64, 512]);
    expect([c.num_buckets, c.hash_seed, c.is_decoder, c.layer_norm_eps]).toEqual([null, null, false, 1e-12]);
  });

  it('keeps unknown Hugging Face fields and reports every problem at once, by field', () => {
    expect(resolveConfig({ output_attentions: false } as Partial<ReformerConfig>)['output_attentions']).toBe(false);
    let error: ReformerConfigError | undefined;
    try {
      resolveConfig({
        hidden_size: 32,
        axial_pos_embds_dim: [8, 8],
        num_buckets: 7,
        attn_layers: ['lsh', 'dense' as 'lsh'],
        hidden_dropout_prob: 1,
        hidden_act: 'swish' as 'relu',
        pad_token_id: 500,
      });
    } catch (e) {
      error = e as ReformerConfigError;
    }
    expect(error).toBeInstanceOf(ReformerConfigError);
    const text = error!.problems.join('\n');
    expect(error!.problems).toHaveLength(6);
    for (const field of ['axial_pos_embds_dim', 'num_buckets', 'attn_layers', 'hidden_dropout_prob', 'hidden_act', 'pad_token_id'])
      expect(text).toContain(field);
    expect(text).toContain('must sum to hidden_size = 32 (got 16)');
  });

  it('the LM classes check is_decoder', () => {
    expect(() => new ReformerModelWithLMHead({ ...small, is_decoder: false })).toThrow(/is_decoder must be true/);
    expect(() => new ReformerForMaskedLM({ ...small, is_decoder: true })).toThrow(/is_decoder must be false/);
  });
});

describe('embeddings', () => {
  it('axial: position t = concat(weights.0[t // A1], weights.1[t % A1]), any start offset', () => {
    const c = resolveConfig(small);
    const emb = new AxialPositionEmbeddings(c, 3);
    const w0 = emb.weights.get(0).dataSync();
    const w1 = emb.weights.get(1).dataSync();
    const [, a1] = c.axial_pos_shape;
    const [d0, d1] = c.axial_pos_embds_dim;
    tidy(() => {
      const got = emb.forward(1, 20, 9).dataSync();
      for (let i = 0; i < 20; i++) {
        const t = 9 + i;
        const want = [
          ...w0.subarray(Math.floor(t / a1) * d0, Math.floor(t / a1) * d0 + d0),
          ...w1.subarray((t % a1) * d1, (t % a1) * d1 + d1),
        ];
        expect(Array.from(got.subarray(i * 16, i * 16 + 16))).toEqual(want);
      }
    });
    expect(() => emb.forward(1, 30, 5)).toThrow(/covers 32/);
  });

  it('axial dropout drops whole columns t mod A1 per batch row (Hugging Face dropout2d), scaled by 1/(1 − p)', () => {
    const c = resolveConfig({ ...small, hidden_dropout_prob: 0.5 });
    const emb = new AxialPositionEmbeddings(c, 4);
    const clean = tidy(() => emb.eval().forward(1, 32).dataSync().slice());
    const dropped = tidy(() => emb.train().forward(3, 32).dataSync().slice());
    let zeroed = 0;
    for (let b = 0; b < 3; b++) {
      for (let col = 0; col < 8; col++) {
        const factors = new Set<number>();
        for (let t = col; t < 32; t += 8) {
          for (let f = 0; f < 16; f++) factors.add(Math.round((dropped[(b * 32 + t) * 16 + f]! / clean[t * 16 + f]!) * 1e4) / 1e4);
        }
        expect(factors.size, `row ${b} column ${col}`).toBe(1); // one decision for the whole column
        const [factor] = [...factors];
        expect([0, 2]).toContain(factor);
        if (factor === 0) zeroed++;
      }
    }
    expect(zeroed).toBeGreaterThan(0);
    expect(zeroed).toBeLessThan(24);
  });

  it('plain learned position embeddings when axial_pos_embds is false', () => {
    const model = new ReformerModelWithLMHead(
      { ...small, axial_pos_embds: false, max_position_embeddings: 40, is_decoder: true },
      { seed: 1 },
    );
    expect(model.stateDict().get('reformer.embeddings.position_embeddings.embedding.weight')!.shape).toEqual([40, 16]);
    tidy(() => expect(model.forward(tensor(randomIds(1, 40, 0, 24), [1, 40], 'int32')).shape).toEqual([1, 40, 24]));
    expect(() => model.forward(tensor(randomIds(1, 41, 0, 24), [1, 41], 'int32'))).toThrow(/41 positions/);
    model.dispose();
  });
});

describe('masked LM and legacy checkpoints', () => {
  it('a masked LM is bidirectional and scores labels[t] at t (no shift)', () => {
    const model = new ReformerForMaskedLM(small, { seed: 5 });
    model.eval();
    tidy(() => {
      const a = randomIds(3, 32, 0, 24);
      const b = a.slice();
      b[31] = (a[31]! + 1) % 24;
      const la = model.forward(tensor(a, [1, 32], 'int32')).dataSync();
      const lb = model.forward(tensor(b, [1, 32], 'int32')).dataSync();
      expect(Array.from(lb.subarray(0, 24))).not.toEqual(Array.from(la.subarray(0, 24))); // position 0 sees position 31
      // loss = mean over scored positions of logsumexp(z) − z[label], computed here from the logits
      const labels = new Int32Array(32).fill(-100);
      labels[3] = 5;
      labels[17] = 11;
      const loss = model.loss(tensor(a, [1, 32], 'int32'), { labels: tensor(labels, [1, 32], 'int32') }).dataSync()[0]!;
      const ce = (t: number, y: number) => {
        const z = Array.from(la.subarray(t * 24, t * 24 + 24));
        const m = Math.max(...z);
        return m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0)) - z[y]!;
      };
      expect(loss).toBeCloseTo((ce(3, 5) + ce(17, 11)) / 2, 5);
    });
    expect(() => model.loss(tensor(randomIds(1, 32, 0, 24), [1, 32], 'int32'))).toThrow(/needs options.labels/);
    model.dispose();
  });

  it('a Hugging Face 4.x checkpoint (lm_head.decoder.bias) loads with the bias applied to the logits', async () => {
    const model = new ReformerModelWithLMHead({ ...small, is_decoder: true }, { seed: 6 });
    const { config } = await serializeModel(model);
    const tensors = new Map<string, HostTensor>();
    for (const [k, v] of model.stateDict())
      tensors.set(k, { dtype: 'float32', shape: [...v.shape], values: Float32Array.from(v.dataSync()) });
    const bias = Float32Array.from({ length: 24 }, (_, i) => i / 10);
    tensors.set('lm_head.bias', { dtype: 'float32', shape: [24], values: bias });
    tensors.set('lm_head.decoder.bias', { dtype: 'float32', shape: [24], values: bias });
    const legacy = loadModel({ config, weights: serializeSafetensors(tensors) }) as ReformerModelWithLMHead;
    expect(legacy.config.lm_head_bias).toBe(true);
    tidy(() => {
      const ids = tensor(randomIds(7, 32, 0, 24), [1, 32], 'int32');
      const base = model.forward(ids).dataSync();
      const got = legacy.forward(ids).dataSync();
      for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(base[i]! + bias[i % 24]!, 5);
      // and the bias gets its gradient
      const { grads } = gradients(() => sum(legacy.forward(ids)), [legacy.lm_head.bias]);
      expect(Array.from(grads[0]!.dataSync())).toEqual(new Array(24).fill(32));
    });
    model.dispose();
    legacy.dispose();
  });
});
