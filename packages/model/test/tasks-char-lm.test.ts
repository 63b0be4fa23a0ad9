import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, tensor, tidy } from '@reformer/core';
import { ReformerModelWithLMHead, charLMTask } from '../src/index.js';
import { trainConfig } from './helpers.js';

// 1000 bytes where every 2-byte pair is unique (bytes i and i + 1 identify i), so windows can be located.
const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i % 2 === 0 ? (i / 2) % 250 : Math.floor(i / 500) + 250));

function locate(hay: Uint8Array, needle: Uint8Array): number[] {
  const at: number[] = [];
  for (let s = 0; s + needle.length <= hay.length; s++) if (needle.every((v, j) => hay[s + j] === v)) at.push(s);
  return at;
}

describe('charLMTask', () => {
  it('splits the bytes: the first 90% train, the last 10% validation; strings count UTF-8 bytes', () => {
    const task = charLMTask({ text: bytes, length: 16 });
    expect(task.vocabSize).toBe(256);
    expect([...task.train]).toEqual([...bytes.subarray(0, 900)]);
    expect([...task.valid]).toEqual([...bytes.subarray(900)]);
    const s = charLMTask({ text: 'é'.repeat(50), length: 4, validFraction: 0.2 });
    expect(s.train.length + s.valid.length).toBe(100);
    expect(s.valid.length).toBe(20);
  });

  it('training rows are windows of the training part, deterministic in (seed, index)', () => {
    const task = charLMTask({ text: bytes, length: 16, seed: 3 });
    const b = task.batch('train', 5, 6);
    expect([b.batchSize, b.length]).toEqual([6, 16]);
    expect(b.labels).toEqual(b.ids);
    const starts = new Set<number>();
    for (let r = 0; r < 6; r++) {
      const at = locate(task.train, Uint8Array.from(b.ids.subarray(r * 16, (r + 1) * 16)));
      expect(at.length, `row ${r} is a window of the training part`).toBe(1);
      starts.add(at[0]!);
    }
    expect(starts.size).toBeGreaterThan(1);
    expect(task.batch('train', 5, 6).ids).toEqual(b.ids);
    expect(task.batch('train', 6, 6).ids).not.toEqual(b.ids);
    expect(charLMTask({ text: bytes, length: 16, seed: 4 }).batch('train', 5, 6).ids).not.toEqual(b.ids);
  });

  it('validation rows are consecutive whole windows of the validation part, wrapping around', () => {
    const task = charLMTask({ text: bytes, length: 16 });
    const windows = Math.floor(100 / 16); // 6
    for (const index of [0, 1, 2]) {
      const b = task.batch('valid', index, 4);
      for (let r = 0; r < 4; r++) {
        const w = (index * 4 + r) % windows;
        expect([...b.ids.subarray(r * 16, (r + 1) * 16)]).toEqual([...bytes.subarray(900 + w * 16, 900 + (w + 1) * 16)]);
      }
    }
  });

  it('bits per character = the mean next-byte loss over the validation windows / ln 2', async () => {
    const task = charLMTask({ text: bytes, length: 16, evalBatchSize: 3 });
    const model = new ReformerModelWithLMHead(trainConfig({ attn_layers: ['local'], vocab_size: 256 }), { seed: 4 });
    const m = await task.evaluate(model, { batches: 2 });
    model.eval();
    let sum = 0;
    for (let i = 0; i < 2; i++) {
      const b = task.batch('valid', i, 3);
      sum += tidy(() => model.loss(tensor(b.ids, [3, 16], 'int32')).dataSync()[0]!);
    }
    expect(m.loss).toBeCloseTo(sum / 2, 5);
    expect(m.bpc).toBeCloseTo(sum / 2 / Math.LN2, 5);
    expect(m.bpc).toBeGreaterThan(7); // an untrained model: about log2(256) = 8 bits
    model.dispose();
  });

  it('rejects a text too short for a window, and bad options, by name', () => {
    expect(() => charLMTask({ text: 'short text', length: 16 })).toThrow(
      /10 bytes: 9 for training and 1 for validation, but a window needs 16/,
    );
    expect(() => charLMTask({ text: bytes, validFraction: 1 })).toThrow(/validFraction must be a number in \(0, 1\)/);
    expect(() => charLMTask({ text: 42 as unknown as string })).toThrow(InvalidArgumentError);
    expect(() => charLMTask({ text: bytes, length: 1 })).toThrow(/length must be an integer ≥ 2/);
  });
});
