/**
 * Fail fast on sizes (issue 15, item 6): a configuration whose tensors cannot be allocated is rejected
 * before anything is allocated, with the bytes it would need and the fields to lower; the bound is the
 * backend's `maxAllocationBytes`, which users can raise. And the LM classes validate `is_decoder`
 * before allocating (a `ReformerConfigError`, as their TSDoc says).
 */
import { describe, expect, it } from 'vitest';
import { AllocationTooLargeError, createCpuBackend, memory, resetPeak, withBackend, type Backend } from '@reformer/core';
import { ReformerConfigError, ReformerForMaskedLM, ReformerModel, ReformerModelWithLMHead, type ReformerConfig } from '../src/index.js';
import { tinyConfig } from './helpers.js';

/** Runs `f`, expects `type`, and checks that the backend allocated nothing meanwhile. */
function expectFailFast<E extends Error>(f: () => unknown, type: new (...args: never[]) => E, backend?: Backend): E {
  const before = memory(backend);
  resetPeak(backend);
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(type);
  expect(memory(backend).peakBytes).toBe(before.liveBytes);
  expect(memory(backend).liveTensors).toBe(before.liveTensors);
  return caught as E;
}

// Hugging Face's default config with one field made absurd (the cases).
const cases: [string, Partial<ReformerConfig>, RegExp, number][] = [
  [
    'hidden_size 2^31',
    { hidden_size: 2 ** 31, axial_pos_embds_dim: [2 ** 30, 2 ** 30] },
    /word_embeddings\.weight \[320, 2147483648\].*Lower vocab_size or hidden_size/s,
    320 * 2 ** 31 * 4,
  ],
  ['vocab_size 1e9', { vocab_size: 1e9 }, /word_embeddings\.weight \[1000000000, 256\].*Lower vocab_size or hidden_size/s, 1e9 * 256 * 4],
  [
    'feed_forward_size 1e10',
    { feed_forward_size: 1e10 },
    /feed_forward\.dense\.dense\.weight \[10000000000, 256\].*Lower feed_forward_size/s,
    1e10 * 256 * 4,
  ],
  [
    'attention_head_size 1e7',
    { attention_head_size: 1e7 },
    /attention projections \(weight\) \[120000000, 256\].*attention_head_size/s,
    12e7 * 256 * 4,
  ],
  // num_buckets null: the shortest hashed sequence (65 tokens, padded to 128) gets 4 buckets → 2 rotation columns.
  ['num_hashes 1e6', { num_hashes: 1e6 }, /random rotations \[12, 64, 1000000, 2\].*fewer hashes/s, 12 * 64 * 1e6 * 2 * 4],
  ['num_buckets 2^40', { num_buckets: 2 ** 40 }, /random rotations \[12, 64, 1, 549755813888\].*fewer buckets/s, 12 * 64 * 2 ** 39 * 4],
];

describe('model sizes are checked before anything is allocated', () => {
  for (const [name, config, message, bytes] of cases) {
    it(`${name} → AllocationTooLargeError with the bytes and the field to change (ReformerModel and the LM heads)`, () => {
      for (const make of [
        () => new ReformerModel(config),
        () => new ReformerForMaskedLM(config),
        () => new ReformerModelWithLMHead({ ...config, is_decoder: true }),
      ]) {
        const e = expectFailFast(make, AllocationTooLargeError);
        expect(e.message).toMatch(message);
        expect(e.bytes).toBe(bytes);
        expect(e.message).toMatch(/maxAllocationBytes/);
      }
    });
  }

  it("the bound is the backend's maxAllocationBytes: raising it lets the same config through", () => {
    const config = tinyConfig({ vocab_size: 4096 }); // word embeddings [4096, 16] = 256 KiB, LM head [4096, 32] = 512 KiB
    const backend = createCpuBackend({ maxAllocationBytes: 128 * 1024 });
    const e = expectFailFast(() => withBackend(backend, () => new ReformerModelWithLMHead(config)), AllocationTooLargeError, backend);
    expect(e.limit).toBe(128 * 1024);
    expect(e.bytes).toBe(4096 * 16 * 4);
    backend.maxAllocationBytes = 1024 * 1024;
    const model = withBackend(backend, () => new ReformerModelWithLMHead(config));
    expect(model.lm_head.decoder.weight.shape).toEqual([4096, 32]);
    model.dispose();
  });
});

describe('is_decoder is validated before anything is allocated', () => {
  it('ReformerModelWithLMHead with is_decoder false → ReformerConfigError, nothing allocated', () => {
    const e = expectFailFast(() => new ReformerModelWithLMHead(tinyConfig({ is_decoder: false })), ReformerConfigError);
    expect(e.problems).toEqual([expect.stringMatching(/^is_decoder must be true for ReformerModelWithLMHead/)]);
  });

  it('ReformerForMaskedLM with is_decoder true → ReformerConfigError, nothing allocated', () => {
    const e = expectFailFast(() => new ReformerForMaskedLM(tinyConfig({ is_decoder: true })), ReformerConfigError);
    expect(e.problems).toEqual([expect.stringMatching(/^is_decoder must be false for ReformerForMaskedLM/)]);
  });
});
