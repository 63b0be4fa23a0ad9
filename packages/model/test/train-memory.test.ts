import { describe, expect, it } from 'vitest';
import { Adam, memory } from '@reformer/core';
import { ReformerModelWithLMHead, duplicationTask, train } from '../src/index.js';
import { trainConfig } from './helpers.js';

describe('train: memory stays flat over steps', () => {
  it('live tensors and live bytes after step 2 equal those after step 20 (with evaluation and dropout)', async () => {
    const task = duplicationTask({ length: 16, vocabSize: 12, seed: 1, evalBatches: 1, evalBatchSize: 2 });
    const model = new ReformerModelWithLMHead(trainConfig({ hidden_dropout_prob: 0.1 }), { seed: 3 });
    const optimizer = new Adam(model.namedParameters());
    const seen = new Map<number, { tensors: number; bytes: number }>();
    await train({
      model,
      optimizer,
      data: task,
      batchSize: 2,
      steps: 20,
      clipNorm: 1,
      evalEvery: 5,
      onProgress: (p) => {
        const m = memory();
        seen.set(p.step, { tensors: m.liveTensors, bytes: m.liveBytes });
      },
    });
    expect(seen.get(2)!.tensors).toBeGreaterThan(0);
    expect(seen.get(20)).toEqual(seen.get(2));
    expect(seen.get(10)).toEqual(seen.get(2));
    model.dispose();
    optimizer.dispose();
  });
});
