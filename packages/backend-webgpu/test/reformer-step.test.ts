/**
 * A 2-layer Reformer (token embedding → two reversible layers of [LayerNorm → LSH self-attention] and
 * a chunked feed-forward → merged halves → LayerNorm → chunked LM head with causal shifted loss),
 * trained for three AdamW steps, gives the CPU backend's losses and parameters on WebGPU.
 * Built from @reformer/lsh, @reformer/reversible and @reformer/chunked-ffn as @reformer/model does.
 */
import { AdamW, cast, Embedding, gradients, LayerNorm, Module, mul, randomUniform, scalar, seedScope, tidy, type Tensor } from '@reformer/core';
import { ChunkedFeedForward, ChunkedLMHead } from '@reformer/chunked-ffn';
import { LSHSelfAttention } from '@reformer/lsh';
import { duplicate, mergeHalves, ReversibleBlock, ReversibleSequence } from '@reformer/reversible';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { WebGPUBackend } from '../src/index.js';
import { cpu, expectClose, host, onBackend } from './helpers.js';
import { createTestBackend } from './setup.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await createTestBackend();
});
afterAll(() => gpu?.dispose());

const H = 16;
const VOCAB = 11;

/** LayerNorm then LSH self-attention (the `f` half of a Reformer layer). */
class PreNormLSH extends Module {
  readonly norm: LayerNorm;
  readonly attention: LSHSelfAttention;
  constructor() {
    super();
    this.norm = this.addModule('layer_norm', new LayerNorm({ dim: H }));
    this.attention = this.addModule('attention', new LSHSelfAttention({ hiddenSize: H, numHeads: 2, headSize: 8, chunkLength: 8, nHashes: 2, nBuckets: 4, hashSeed: 3, causal: true, initStd: 0.2 }));
  }
  forward(x: Tensor): Tensor {
    return tidy(() => this.attention.forward(this.norm.forward(x)));
  }
  override dispose(): void {
    this.attention.dispose();
    super.dispose();
  }
}

function reformerSteps(): Tensor[] {
  return seedScope(42, () => {
    const embed = new Embedding({ numEmbeddings: VOCAB, dim: H, seed: 1 });
    const layers = [0, 1].map(() => new ReversibleBlock(new PreNormLSH(), new ChunkedFeedForward({ hiddenSize: H, feedForwardSize: 2 * H, activation: 'gelu', chunkSize: 8, initStd: 0.2 })));
    const seq = new ReversibleSequence(layers);
    const finalNorm = new LayerNorm({ dim: 2 * H });
    const head = new ChunkedLMHead({ hiddenSize: 2 * H, vocabSize: VOCAB, chunkSize: 16, initStd: 0.2, seed: 2 });
    const params = [...embed.parameters(), ...seq.parameters(), ...finalNorm.parameters(), ...head.parameters()];
    const opt = new AdamW(params, { lr: 3e-2 });
    const tokens = tidy(() => cast(mul(seedScope(5, () => randomUniform([2, 32])), scalar(VOCAB)), 'int32'));
    const losses: Tensor[] = [];
    for (let step = 0; step < 3; step++) {
      const { value, grads } = gradients(() => {
        const x = embed.forward(tokens);
        const [x1, x2] = duplicate(x);
        const [y1, y2] = seq.forward(x1, x2);
        return head.loss(finalNorm.forward(mergeHalves(y1, y2)), tokens, { shift: true });
      }, params);
      opt.step(grads);
      for (const g of grads) g.dispose();
      losses.push(value);
    }
    const finals = params.map((p) => tidy(() => mul(p, scalar(1))));
    opt.dispose();
    tokens.dispose();
    seq.dispose();
    for (const m of [embed, finalNorm, head]) m.dispose();
    return [...losses, ...finals];
  });
}

it('three AdamW steps of a 2-layer Reformer: losses and every parameter match the CPU backend', async () => {
  const want = await host(await onBackend(cpu, reformerSteps));
  const got = await host(await onBackend(gpu, reformerSteps));
  // The loss goes down on the reference, and everything agrees within float32 tolerance.
  expect(want[2]![0]!).toBeLessThan(want[0]![0]!);
  expect(got.length).toBeGreaterThan(20);
  expectClose(got, want, 1e-4, 'reformer');
  expect(gpu.memory().liveBytes).toBe(0);
}, 120_000);
