import { describe, expect, it } from 'vitest';
import { Adam } from '@reformer/core';
import { ReformerModelWithLMHead, train, type TrainBatch } from '../src/index.js';
import { randomIds, trainConfig } from './helpers.js';

describe('train: a 2-layer model overfits a tiny batch', () => {
  it('reaches a loss below 0.05 on one fixed batch of random tokens', async () => {
    const model = new ReformerModelWithLMHead(trainConfig(), { seed: 11 });
    const optimizer = new Adam(model.namedParameters(), { lr: 1e-2 });
    const batch: TrainBatch = { batchSize: 2, length: 16, ids: randomIds(5, 32, 1, 12) };
    const losses: number[] = [];
    const result = await train({
      model,
      optimizer,
      data: () => batch,
      steps: 200,
      clipNorm: 1,
      onProgress: (p) => void losses.push(p.loss),
    });
    expect(losses).toHaveLength(200);
    // Random tokens over 11 symbols start near ln 12 ≈ 2.48 and can only go to ~0 by memorising.
    expect(losses[0]).toBeGreaterThan(2);
    expect(result.loss).toBeLessThan(0.05);
    expect(result.step).toBe(200);
    model.dispose();
    optimizer.dispose();
  });
});
