import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, deriveSeed, randomBits, tensor, tidy } from '@reformer/core';
import { ReformerForMaskedLM, ReformerModelWithLMHead, duplicationTask, scoreCausalLM } from '../src/index.js';
import { trainConfig } from './helpers.js';

describe('duplicationTask: batches', () => {
  const L = 20;
  const V = 6;
  const task = duplicationTask({ length: L, vocabSize: V, seed: 9 });

  it('rows are 0 w 0 w with symbols in 1..V-1, labels only on the second w', () => {
    expect(task.vocabSize).toBe(V);
    expect(task.length).toBe(L);
    expect(task.wordLength).toBe(L / 2 - 1);
    const b = task.batch('train', 3, 5);
    expect([b.batchSize, b.length, b.ids.length, b.labels!.length]).toEqual([5, L, 5 * L, 5 * L]);
    for (let r = 0; r < 5; r++) {
      const ids = [...b.ids.subarray(r * L, (r + 1) * L)];
      const labels = [...b.labels!.subarray(r * L, (r + 1) * L)];
      const w = ids.slice(1, L / 2);
      expect(ids).toEqual([0, ...w, 0, ...w]);
      for (const s of w) expect(s >= 1 && s <= V - 1).toBe(true);
      expect(labels).toEqual([...Array<number>(L / 2 + 1).fill(-100), ...w]);
    }
  });

  it('draws the documented Philox symbols: bits mod (V − 1) + 1 from deriveSeed(seed, index), stream 0 train / 1 valid', () => {
    const n = 4 * (L / 2 - 1);
    for (const [split, stream] of [
      ['train', 0],
      ['valid', 1],
    ] as const) {
      const bits = randomBits(deriveSeed(9, 7), n, stream);
      const b = task.batch(split, 7, 4);
      for (let r = 0; r < 4; r++) {
        for (let j = 0; j < L / 2 - 1; j++) expect(b.ids[r * L + 1 + j]).toBe((bits[r * (L / 2 - 1) + j]! % (V - 1)) + 1);
      }
    }
  });

  it('is deterministic in (seed, split, index) and different across them; symbols are close to uniform', () => {
    expect(task.batch('train', 2, 3).ids).toEqual(duplicationTask({ length: L, vocabSize: V, seed: 9 }).batch('train', 2, 3).ids);
    expect(task.batch('train', 2, 3).ids).not.toEqual(task.batch('train', 3, 3).ids);
    expect(task.batch('train', 2, 3).ids).not.toEqual(task.batch('valid', 2, 3).ids);
    expect(task.batch('train', 2, 3).ids).not.toEqual(duplicationTask({ length: L, vocabSize: V, seed: 10 }).batch('train', 2, 3).ids);
    const big = duplicationTask({ length: 256, vocabSize: 5, seed: 1 }).batch('train', 0, 40);
    const counts = [0, 0, 0, 0, 0];
    for (let r = 0; r < 40; r++) for (let j = 1; j < 128; j++) counts[big.ids[r * 256 + j]!]!++;
    expect(counts[0]).toBe(0);
    const expected = (40 * 127) / 4;
    for (let s = 1; s < 5; s++) expect(Math.abs(counts[s]! - expected) / expected).toBeLessThan(0.05);
  });

  it('rejects bad options and arguments by name', () => {
    expect(() => duplicationTask({ length: 15 })).toThrow(/length must be even/);
    expect(() => duplicationTask({ length: 2 })).toThrow(InvalidArgumentError);
    expect(() => duplicationTask({ vocabSize: 1 })).toThrow(/vocabSize must be an integer ≥ 2/);
    expect(() => task.batch('test' as 'train', 0, 1)).toThrow(/split must be 'train' or 'valid'/);
    expect(() => task.batch('train', -1, 1)).toThrow(/index/);
    expect(() => task.batch('train', 0, 0)).toThrow(/batchSize/);
  });
});

describe('duplicationTask: evaluation', () => {
  it('scoreCausalLM on hand-computed logits: shift, ignored labels, ties to the lowest id', () => {
    // [1, 3] tokens, V = 2: logits at t predict labels[t + 1].
    const logits = new Float32Array([0, 1, 0, 0, 5, -5]);
    const s = scoreCausalLM(logits, new Int32Array([-100, 1, 0]), 1, 3, 2);
    expect(s.count).toBe(2);
    expect(s.correct).toBe(2);
    expect(s.lossSum).toBeCloseTo(Math.log(1 + Math.exp(-1)) + Math.log(2), 6);
    expect(scoreCausalLM(logits, new Int32Array([-100, 0, 1]), 1, 3, 2).correct).toBe(0);
  });

  it('accuracy and loss equal a brute-force count over the logits and the model’s own loss', async () => {
    const L = 16;
    const task = duplicationTask({ length: L, vocabSize: 4, seed: 2 });
    // Fixed rotations (hash_seed), so the logits do not depend on the seed stream.
    const model = new ReformerModelWithLMHead(trainConfig({ vocab_size: 4, hash_seed: 5 }), { seed: 8 });
    model.eval();
    const metrics = await task.evaluate(model, { batches: 2, batchSize: 3 });
    let correct = 0;
    let count = 0;
    let lossSum = 0;
    for (let i = 0; i < 2; i++) {
      const b = task.batch('valid', i, 3);
      tidy(() => {
        const ids = tensor(b.ids, [3, L], 'int32');
        const logits = model.forward(ids).dataSync();
        for (let r = 0; r < 3; r++) {
          for (let t = L / 2 + 1; t < L; t++) {
            const row = logits.subarray((r * L + t - 1) * 4, (r * L + t) * 4);
            const argmax = row.indexOf(Math.max(...row));
            if (argmax === b.ids[r * L + t]) correct++;
            count++;
          }
        }
        lossSum += model.loss(ids, { labels: tensor(b.labels!, [3, L], 'int32') }).dataSync()[0]!;
      });
    }
    expect(count).toBe(2 * 3 * (L / 2 - 1));
    expect(metrics.accuracy).toBe(correct / count);
    expect(metrics.accuracy).toBeGreaterThan(0);
    expect(metrics.accuracy).toBeLessThan(1);
    expect(metrics.loss).toBeCloseTo(lossSum / 2, 5);
    expect(model.training).toBe(false);
    model.train();
    await task.evaluate(model, { batches: 1, batchSize: 1 });
    expect(model.training).toBe(true);
    model.dispose();
  });

  it('refuses a model whose vocabulary is smaller than the task’s, and a masked (non-causal) LM', async () => {
    const model = new ReformerModelWithLMHead(trainConfig({ vocab_size: 4 }), { seed: 1 });
    await expect(duplicationTask({ length: 16, vocabSize: 8 }).evaluate(model)).rejects.toThrow(/vocab_size 4 is below the task's 8/);
    model.dispose();
    const masked = new ReformerForMaskedLM(trainConfig({ vocab_size: 8, is_decoder: false }), { seed: 1 });
    await expect(duplicationTask({ length: 16, vocabSize: 8 }).evaluate(masked)).rejects.toThrow(/is_decoder: false/);
    masked.dispose();
  });
});
