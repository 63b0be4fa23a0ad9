/** LSH attention, a reversible stack and a training step give the CPU backend's results on tfjs-wasm. */
import {
  AdamW,
  concat,
  crossEntropy,
  gelu,
  gradients,
  LayerNorm,
  Linear,
  Module,
  Embedding,
  randomNormal,
  randomUniform,
  cast,
  scalar,
  mul,
  seedScope,
  tidy,
  type Tensor,
} from '@reformer/core';
import { lshAttention, LSHSelfAttention } from '@reformer/lsh';
import { ReversibleBlock, ReversibleSequence } from '@reformer/reversible';
import { ChunkedFeedForward, ChunkedLMHead } from '@reformer/chunked-ffn';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TfjsBackend } from '../src/index.js';
import { cpu, expectClose, onBackend } from './helpers.js';
import { createWasm } from './setup-wasm.js';

let wasm: TfjsBackend;
beforeAll(async () => {
  wasm = await createWasm();
});

async function host(ts: Tensor[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const t of ts) out.push(Float32Array.from(await t.data()));
  for (const t of ts) t.dispose();
  return out;
}

/** LSH attention output and gradients w.r.t. qk and v. */
function lshCase(causal: boolean): Tensor[] {
  return tidy(() => {
    const qk = seedScope(11, () => randomNormal([2, 2, 64, 8]));
    const v = seedScope(12, () => randomNormal([2, 2, 64, 8]));
    const dy = seedScope(13, () => randomNormal([2, 2, 64, 8]));
    const { value, grads } = gradients(
      () => lshAttention(qk, v, { chunkLength: 8, nHashes: 2, nBuckets: 8, causal, seed: 5 }).output,
      [qk, v],
      dy,
    );
    return [value, ...grads];
  });
}

class Mlp extends Module {
  readonly norm: LayerNorm;
  readonly dense: Linear;
  readonly out: Linear;
  constructor(d: number, seed: number) {
    super();
    this.norm = this.addModule('norm', new LayerNorm({ dim: d }));
    this.dense = this.addModule('dense', new Linear({ inFeatures: d, outFeatures: 2 * d, seed }));
    this.out = this.addModule('out', new Linear({ inFeatures: 2 * d, outFeatures: d, seed: seed + 1 }));
  }
  forward(x: Tensor): Tensor {
    return tidy(() => this.out.forward(gelu(this.dense.forward(this.norm.forward(x)))));
  }
}

function reversibleCase(): Tensor[] {
  const blocks = [0, 1, 2].map((i) => new ReversibleBlock(new Mlp(8, 10 * i + 1), new Mlp(8, 10 * i + 5)));
  const seq = new ReversibleSequence(blocks);
  try {
    return tidy(() => {
      const x1 = seedScope(1, () => randomNormal([2, 6, 8]));
      const x2 = seedScope(2, () => randomNormal([2, 6, 8]));
      const dy = seedScope(3, () => randomNormal([2, 6, 16]));
      const params = [...seq].flatMap((b) => b.gradientParameters());
      const { value, grads } = gradients(
        () => {
          const [y1, y2] = seq.forward(x1, x2);
          return concat([y1, y2], -1);
        },
        [x1, x2, ...params],
        dy,
      );
      return [value, ...grads];
    });
  } finally {
    seq.dispose();
  }
}

/** Three AdamW steps of Linear → LayerNorm → Linear → crossEntropy; returns losses and final parameters. */
function trainingCase(): Tensor[] {
  const l1 = new Linear({ inFeatures: 8, outFeatures: 16, seed: 3 });
  const norm = new LayerNorm({ dim: 16 });
  const l2 = new Linear({ inFeatures: 16, outFeatures: 5, seed: 4 });
  const params = [...l1.parameters(), ...norm.parameters(), ...l2.parameters()];
  const opt = new AdamW(params, { lr: 1e-2 });
  const losses: Tensor[] = [];
  try {
    const x = seedScope(21, () => randomNormal([12, 8]));
    const labels = tidy(() => cast(mul(seedScope(22, () => randomUniform([12])), scalar(5)), 'int32'));
    for (let step = 0; step < 3; step++) {
      const { value, grads } = gradients(() => crossEntropy(l2.forward(norm.forward(l1.forward(x))), labels), params);
      opt.step(grads);
      for (const g of grads) g.dispose();
      losses.push(value);
    }
    x.dispose();
    labels.dispose();
    return [...losses, ...params.map((p) => tidy(() => mul(p, scalar(1))))];
  } finally {
    opt.dispose();
    for (const p of params) p.dispose();
  }
}

/** Pre-LayerNorm causal LSH self-attention: the Reformer's f. */
class AttentionBlock extends Module {
  readonly layer_norm: LayerNorm;
  readonly attention: LSHSelfAttention;
  constructor(d: number, seed: number) {
    super();
    this.layer_norm = this.addModule('layer_norm', new LayerNorm({ dim: d }));
    this.attention = this.addModule(
      'attention',
      new LSHSelfAttention({ hiddenSize: d, numHeads: 2, headSize: 8, causal: true, chunkLength: 8, nHashes: 2, nBuckets: 4, seed }),
    );
  }
  forward(x: Tensor): Tensor {
    return tidy(() => this.attention.forward(this.layer_norm.forward(x)));
  }
}

/**
 * A 2-layer Reformer LM built from the packages (@reformer/model is not a dependency of this package):
 * token embedding → both reversible streams → 2 × ReversibleBlock(LSH attention, chunked
 * feed-forward) → LayerNorm over [y1, y2] → chunked LM head loss (causal shift).
 */
class TinyReformer extends Module {
  readonly embeddings: Embedding;
  readonly layers: ReversibleSequence;
  readonly layer_norm: LayerNorm;
  readonly lm_head: ChunkedLMHead;
  constructor(vocab: number, d: number) {
    super();
    this.embeddings = this.addModule('embeddings', new Embedding({ numEmbeddings: vocab, dim: d, seed: 31 }));
    const blocks = [0, 1].map(
      (i) =>
        new ReversibleBlock(
          new AttentionBlock(d, 40 + i),
          new ChunkedFeedForward({ hiddenSize: d, feedForwardSize: 2 * d, activation: 'gelu', chunkSize: 8, seed: 50 + i }),
          { f: 'attention', g: 'feed_forward' },
        ),
    );
    this.layers = this.addModule('layers', new ReversibleSequence(blocks));
    this.layer_norm = this.addModule('layer_norm', new LayerNorm({ dim: 2 * d }));
    this.lm_head = this.addModule('lm_head', new ChunkedLMHead({ hiddenSize: 2 * d, vocabSize: vocab, chunkSize: 8, seed: 60 }));
  }
  loss(ids: Tensor): Tensor {
    return tidy(() => {
      const x = this.embeddings.forward(ids);
      const [y1, y2] = this.layers.forward(x, x);
      return this.lm_head.loss(this.layer_norm.forward(concat([y1, y2], -1)), ids, { shift: true });
    });
  }
}

/** Two AdamW steps of the 2-layer Reformer on 2 × 32 tokens; returns both losses and every parameter after. */
function reformerCase(): Tensor[] {
  const vocab = 11;
  const model = new TinyReformer(vocab, 16);
  const params = [...model.parameters()];
  const opt = new AdamW(params, { lr: 1e-2 });
  const losses: Tensor[] = [];
  try {
    const ids = tidy(() => cast(mul(seedScope(71, () => randomUniform([2, 32])), scalar(vocab)), 'int32'));
    for (let step = 0; step < 2; step++) {
      // Same seed stream on both backends: the same LSH rotations.
      const { value, grads } = seedScope(80 + step, () => gradients(() => model.loss(ids), params));
      opt.step(grads);
      for (const g of grads) g.dispose();
      losses.push(value);
    }
    ids.dispose();
    return [...losses, ...params.map((p) => tidy(() => mul(p, scalar(1))))];
  } finally {
    opt.dispose();
    model.dispose();
  }
}

describe('tfjs-wasm gives the CPU backend results (within 1e-4)', () => {
  for (const causal of [false, true]) {
    it(`lshAttention forward and gradients (causal ${causal})`, async () => {
      const want = await host(await onBackend(cpu, () => lshCase(causal)));
      const got = await host(await onBackend(wasm, () => lshCase(causal)));
      expect(got.length).toBe(3);
      expectClose(got, want, 1e-4, 'lsh');
    });
  }

  it('reversible stack of 3 blocks: output and every gradient', async () => {
    const want = await host(await onBackend(cpu, () => reversibleCase()));
    const got = await host(await onBackend(wasm, () => reversibleCase()));
    expect(got.length).toBeGreaterThan(10);
    expectClose(got, want, 1e-4, 'reversible');
  });

  it('2-layer Reformer (LSH attention + chunked FF, reversible, chunked LM head): two AdamW steps', async () => {
    const want = await host(await onBackend(cpu, () => reformerCase()));
    const got = await host(await onBackend(wasm, () => reformerCase()));
    expect(got.length).toBeGreaterThan(20); // 2 losses + every parameter
    expect(want[1]![0]!).toBeLessThan(want[0]![0]!); // it trains
    expectClose(got, want, 1e-4, 'reformer');
  });

  it('training step: Linear + LayerNorm + crossEntropy + AdamW', async () => {
    const want = await host(await onBackend(cpu, () => trainingCase()));
    const got = await host(await onBackend(wasm, () => trainingCase()));
    // The loss goes down, and every value agrees.
    expect(want[2]![0]!).toBeLessThan(want[0]![0]!);
    expectClose(got, want, 1e-4, 'training');
  });
});
