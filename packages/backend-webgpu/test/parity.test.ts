/** LSH attention, a reversible stack and training steps give the CPU backend's results on WebGPU. */
import {
  AdamW,
  cast,
  concat,
  crossEntropy,
  gelu,
  gradients,
  LayerNorm,
  Linear,
  Module,
  mul,
  randomNormal,
  randomUniform,
  scalar,
  seedScope,
  tidy,
  type Tensor,
} from '@reformer/core';
import { lshAttention } from '@reformer/lsh';
import { ReversibleBlock, ReversibleSequence } from '@reformer/reversible';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebGPUBackend } from '../src/index.js';
import { cpu, expectClose, host, onBackend } from './helpers.js';
import { createTestBackend } from './setup.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await createTestBackend();
});
afterAll(() => gpu?.dispose());

/** LSH attention output and gradients w.r.t. qk and v. */
function lshCase(causal: boolean): Tensor[] {
  return tidy(() => {
    const qk = seedScope(11, () => randomNormal([2, 2, 64, 8]));
    const v = seedScope(12, () => randomNormal([2, 2, 64, 8]));
    const dy = seedScope(13, () => randomNormal([2, 2, 64, 8]));
    const { value, grads } = gradients(() => lshAttention(qk, v, { chunkLength: 8, nHashes: 2, nBuckets: 8, causal, seed: 5 }).output, [qk, v], dy);
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

describe('webgpu gives the CPU backend results (float32 tolerance)', () => {
  for (const causal of [false, true]) {
    it(`lshAttention forward and gradients (causal ${causal})`, async () => {
      const want = await host(await onBackend(cpu, () => lshCase(causal)));
      const got = await host(await onBackend(gpu, () => lshCase(causal)));
      expect(got.length).toBe(3);
      expectClose(got, want, 1e-4, 'lsh');
    });
  }

  it('reversible stack of 3 blocks: output and every gradient', async () => {
    const want = await host(await onBackend(cpu, () => reversibleCase()));
    const got = await host(await onBackend(gpu, () => reversibleCase()));
    expect(got.length).toBeGreaterThan(10);
    expectClose(got, want, 1e-4, 'reversible');
  });

  it('training step: Linear + LayerNorm + crossEntropy + AdamW', async () => {
    const want = await host(await onBackend(cpu, () => trainingCase()));
    const got = await host(await onBackend(gpu, () => trainingCase()));
    expect(want[2]![0]!).toBeLessThan(want[0]![0]!);
    expectClose(got, want, 1e-4, 'training');
  });
});
