/** Layer option errors quote the bad value with core's `formatValue`: NaN and Infinity as such, never `null`. */
import { InvalidArgumentError, checkInteger, checkRate } from '@reformer/core';
import { describe, expect, it } from 'vitest';
import { resolveAttentionConfig } from '../src/layers/config.js';

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidArgumentError);
    return (e as Error).message;
  }
  throw new Error('expected an InvalidArgumentError');
}

describe('layer option messages print NaN and Infinity', () => {
  it('integers, rates, seeds and initStd', () => {
    expect(message(() => checkInteger('LSHSelfAttention', 'numHeads', NaN, 1))).toContain('got NaN.');
    expect(message(() => checkInteger('LSHSelfAttention', 'chunkLength', Infinity, 1))).toContain('got Infinity.');
    expect(message(() => checkRate('LSHSelfAttention', 'dropout', NaN))).toContain('got NaN.');
    expect(message(() => checkInteger('LSHSelfAttention', 'seed', -Infinity, 0))).toContain('got -Infinity.');
    const m = message(() => resolveAttentionConfig('LSHSelfAttention', { hiddenSize: 8, numHeads: 2, headSize: 4, initStd: NaN } as never));
    expect(m).toContain('initStd must be a finite non-negative number, got NaN.');
  });
});
