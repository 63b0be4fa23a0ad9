/**
 * The architectures Google published on the Hugging Face hub (`fixtures/published/*\/config.json`:
 * google/reformer-enwik8 and google/reformer-crime-and-punishment), at full size with random weights:
 * each builds, has the parameter count its config implies (counted here from Hugging Face's module
 * layout), saves and loads back bit-exactly, and runs forward at a short length.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tensor, tidy } from '@reformer/core';
import { ReformerModelWithLMHead, loadModel, serializeModel, type ReformerConfig } from '../src/index.js';
import { randomIds } from './helpers.js';

function published(name: string): ReformerConfig & { num_hidden_layers: number } {
  return JSON.parse(readFileSync(new URL(`./fixtures/published/${name}/config.json`, import.meta.url), 'utf8')) as ReformerConfig & {
    num_hidden_layers: number;
  };
}

/**
 * Parameters of Hugging Face's ReformerModelWithLMHead for a config: word and axial position
 * embeddings; per layer an attention LayerNorm, the projections (local: query, key, value; LSH: a
 * shared query_key and value), the output projection, a feed-forward LayerNorm and two dense layers
 * with biases; the final LayerNorm over 2·d_model; the LM head (weight and bias).
 */
function expectedParameters(c: ReturnType<typeof published>): number {
  const d = c.hidden_size;
  const inner = c.num_attention_heads * c.attention_head_size;
  let n = c.vocab_size * d + c.axial_pos_shape[0] * c.axial_pos_embds_dim[0] + c.axial_pos_shape[1] * c.axial_pos_embds_dim[1];
  for (const kind of c.attn_layers) {
    n += 2 * d + (kind === 'lsh' ? 2 : 3) * d * inner + inner * d;
    n += 2 * d + d * c.feed_forward_size + c.feed_forward_size + c.feed_forward_size * d + d;
  }
  return n + 2 * (2 * d) + 2 * d * c.vocab_size + c.vocab_size;
}

describe('published architectures at full size, random weights', () => {
  it.each([
    ['reformer-crime-and-punishment', 6, 24],
    ['reformer-enwik8', 12, 16],
  ])(
    '%s: builds, loads its own checkpoint back bit-exactly and runs forward',
    async (name, layers, length) => {
      const config = published(name);
      expect(config.attn_layers).toHaveLength(layers);
      expect(config.num_hidden_layers).toBe(layers);
      const model = new ReformerModelWithLMHead(config, { seed: 11 });
      model.eval();
      const params = model.numParameters();
      expect(params).toBe(expectedParameters(config));
      const ids = tensor(randomIds(7, length, 0, config.vocab_size), [1, length], 'int32');
      const before = tidy(() => model.forward(ids).dataSync().slice());
      expect(before.length).toBe(length * config.vocab_size);
      expect(before.every(Number.isFinite)).toBe(true);

      const files = await serializeModel(model);
      model.dispose();
      const loaded = loadModel(files) as ReformerModelWithLMHead;
      loaded.eval();
      expect(loaded).toBeInstanceOf(ReformerModelWithLMHead);
      expect(loaded.numParameters()).toBe(params);
      const after = tidy(() => loaded.forward(ids).dataSync().slice());
      expect(after).toEqual(before);
      loaded.dispose();
      ids.dispose();
      console.log(
        `${name}: ${params.toLocaleString('en-US')} parameters, checkpoint ${(files.weights.byteLength / 2 ** 20).toFixed(1)} MiB`,
      );
    },
    300_000,
  );
});
