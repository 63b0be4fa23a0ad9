/**
 * generate's bad inputs (issue 15, item 7): seeds that lshAttention rejects are rejected here too (the
 * same check, core's checkSeed), and a string prompt, a flat array or missing options give named
 * errors instead of a TypeError.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@reformer/core';
import { ReformerModelWithLMHead, generate } from '../src/index.js';
import { tinyConfig } from './helpers.js';

describe('generate: bad inputs give named errors', () => {
  const model = new ReformerModelWithLMHead(tinyConfig({ axial_pos_shape: [8, 8] }), { seed: 1 });

  for (const seed of [Number.NaN, 1.5, -1, 2 ** 60]) {
    it(`seed ${seed} → InvalidArgumentError, as lshAttention`, async () => {
      await expect(generate(model, [[1, 2]], { maxNewTokens: 2, seed })).rejects.toThrow(InvalidArgumentError);
      await expect(generate(model, [[1, 2]], { maxNewTokens: 2, seed })).rejects.toThrow(
        `generate: seed must be a non-negative integer, got ${seed}.`,
      );
    });
  }

  it('a valid seed still generates (the same tokens for the same seed)', async () => {
    const a = await generate(model, [[1, 2]], { maxNewTokens: 3, seed: 2 ** 53 - 1 });
    expect(a[0]).toHaveLength(5);
    expect(await generate(model, [[1, 2]], { maxNewTokens: 3, seed: 2 ** 53 - 1 })).toEqual(a);
  });

  it('a string prompt → InvalidArgumentError saying to encode it', async () => {
    await expect(generate(model, 'hello' as never, { maxNewTokens: 2 })).rejects.toThrow(InvalidArgumentError);
    await expect(generate(model, 'hello' as never, { maxNewTokens: 2 })).rejects.toThrow(
      /prompt must be token ids.*got a string.*Encode text with a tokenizer/,
    );
  });

  it('a flat array of ids → InvalidArgumentError asking for rows', async () => {
    await expect(generate(model, [1, 2, 3] as never, { maxNewTokens: 2 })).rejects.toThrow(
      /array of rows of token ids \(e\.g\. \[\[1, 2, 3\]\]\); row 0 is number/,
    );
  });

  it('no options, or no maxNewTokens → InvalidArgumentError naming maxNewTokens', async () => {
    await expect((generate as (...args: unknown[]) => Promise<unknown>)(model, [[1, 2]])).rejects.toThrow(InvalidArgumentError);
    await expect((generate as (...args: unknown[]) => Promise<unknown>)(model, [[1, 2]])).rejects.toThrow(
      /options must be given, with at least maxNewTokens/,
    );
    await expect(generate(model, [[1, 2]], {} as never)).rejects.toThrow(/maxNewTokens must be a non-negative integer, got undefined/);
  });
});
