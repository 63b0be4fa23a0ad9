/**
 * Bad input: every check throws the named error of @reformer/core, and its message names the
 * parameter and the expected value.
 */
import { describe, expect, it } from 'vitest';
import { DTypeError, InvalidArgumentError, ShapeMismatchError, ones, randomNormal, zeros } from '@reformer/core';
import { chooseNumBuckets, hashVectors } from '../src/hash.js';
import { lshAttention } from '../src/lsh-attention.js';
import { localAttention } from '../src/local-attention.js';
import { fullAttention } from '../src/full-attention.js';

const qk = randomNormal([1, 2, 12, 4], { seed: 1 });
const v = randomNormal([1, 2, 12, 3], { seed: 2 });

function expectError(f: () => unknown, type: new (...args: never[]) => Error, ...parts: (string | RegExp)[]): void {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(type);
  const message = (caught as Error).message;
  for (const p of parts) expect(message).toMatch(p);
}

describe('bad input', () => {
  it('odd nBuckets → InvalidArgumentError naming nBuckets and "even"', () => {
    expectError(() => lshAttention(qk, v, { chunkLength: 4, nBuckets: 7 }), InvalidArgumentError, 'nBuckets', /even integer >= 2/, /got 7/);
    expectError(() => hashVectors(qk, { nBuckets: 5, nHashes: 1 }), InvalidArgumentError, 'nBuckets', /even/);
    expectError(() => lshAttention(qk, v, { chunkLength: 4, nBuckets: 0 }), InvalidArgumentError, 'nBuckets');
  });

  it('odd factor → InvalidArgumentError naming the factor list', () => {
    expectError(
      () => lshAttention(qk, v, { chunkLength: 4, nBuckets: [4, 3] }),
      InvalidArgumentError,
      /factor of nBuckets \[4,3\]/,
      /even integer/,
      /got 3/,
    );
    expectError(() => hashVectors(qk, { nBuckets: [2, 2.5], nHashes: 1 }), InvalidArgumentError, /factor/);
    expectError(() => hashVectors(qk, { nBuckets: [], nHashes: 1 }), InvalidArgumentError, /nBuckets/);
  });

  it('chunkLength < 1 → InvalidArgumentError naming chunkLength and "a positive integer"', () => {
    expectError(() => lshAttention(qk, v, { chunkLength: 0 }), InvalidArgumentError, 'chunkLength', /a positive integer/, /got 0/);
    expectError(() => lshAttention(qk, v, { chunkLength: 2.5 }), InvalidArgumentError, 'chunkLength');
    expectError(() => localAttention(qk, qk, v, { chunkLength: -1 }), InvalidArgumentError, 'chunkLength', /a positive integer/);
    expectError(
      () => lshAttention(qk, v, { chunkLength: 4, chunksBefore: -1 }),
      InvalidArgumentError,
      'chunksBefore',
      /a non-negative integer/,
    );
    expectError(() => fullAttention(qk, qk, v, { queryChunk: 0 }), InvalidArgumentError, 'queryChunk', /a positive integer/);
    expectError(() => lshAttention(qk, v, { chunkLength: 4, nHashes: 0 }), InvalidArgumentError, 'nHashes', /a positive integer/);
    expectError(() => chooseNumBuckets(8, 8), InvalidArgumentError, 'length');
  });

  it('rotations of the wrong shape → ShapeMismatchError naming rotations and the expected shape', () => {
    const bad = zeros([2, 4, 1, 3]);
    expectError(
      () => lshAttention(qk, v, { chunkLength: 4, nBuckets: 8, rotations: bad }),
      ShapeMismatchError,
      'rotations',
      /\[2, 4, 1, 4\]/,
      /got \[2, 4, 1, 3\]/,
    );
    expectError(
      () => hashVectors(qk, { nBuckets: [2, 4], nHashes: 2, rotations: [zeros([2, 4, 2, 1])] }),
      ShapeMismatchError,
      'rotations',
      /\[2, 4, 2, 1\], \[2, 4, 2, 2\]/,
      /\[2, 4, 2, 3\]/,
    );
    expectError(
      () => hashVectors(qk, { nBuckets: 4, nHashes: 1, rotations: zeros([2, 4, 1, 2], 'int32') }),
      DTypeError,
      'rotations',
      /float32/,
    );
  });

  it('mask of the wrong dtype → DTypeError saying cast(mask, "int32"); wrong shape → ShapeMismatchError', () => {
    expectError(() => lshAttention(qk, v, { chunkLength: 4, mask: ones([1, 12]) }), DTypeError, 'mask', /int32/, /cast\(mask, 'int32'\)/);
    expectError(
      () => lshAttention(qk, v, { chunkLength: 4, mask: ones([1, 11], 'int32') }),
      ShapeMismatchError,
      'mask',
      /\[1, 12\]/,
      /got \[1, 11\]/,
    );
    expectError(() => localAttention(qk, qk, v, { chunkLength: 4, mask: ones([12], 'int32') }), ShapeMismatchError, 'mask', /\[1, 12\]/);
    expectError(() => fullAttention(qk, qk, v, { mask: ones([1, 12]) }), DTypeError, /cast\(mask, 'int32'\)/);
  });

  it('qk / v shape mismatch → ShapeMismatchError naming v and the expected leading shape', () => {
    const v2 = zeros([1, 2, 11, 3]);
    expectError(() => lshAttention(qk, v2, { chunkLength: 4 }), ShapeMismatchError, /v \[1, 2, 11, 3\]/, /\[1, 2, 12, dim\]/);
    expectError(() => lshAttention(zeros([2, 12, 4]), v, { chunkLength: 4 }), ShapeMismatchError, 'qk', /\[batch, heads, length, dHead\]/);
    expectError(() => lshAttention(zeros([1, 2, 12, 4], 'int32'), v, { chunkLength: 4 }), DTypeError, 'qk', /float32/);
    expectError(
      () => localAttention(qk, zeros([1, 2, 12, 5]), v, { chunkLength: 4 }),
      ShapeMismatchError,
      /k must have the shape of q \[1, 2, 12, 4\]/,
    );
    expectError(() => fullAttention(qk, qk, zeros([1, 1, 12, 3])), ShapeMismatchError, /v \[1, 1, 12, 3\]/);
  });

  it('bad attention dropout → InvalidArgumentError naming dropout and the expected value', () => {
    expectError(
      () => lshAttention(qk, v, { chunkLength: 4, dropout: { rate: 1, seed: 1 } }),
      InvalidArgumentError,
      'dropout.rate',
      /\[0, 1\)/,
      /got 1/,
    );
    expectError(
      () => lshAttention(qk, v, { chunkLength: 4, dropout: { rate: 0.1, seed: -3 } }),
      InvalidArgumentError,
      'dropout.seed',
      /got -3/,
    );
    expectError(
      () => lshAttention(qk, v, { chunkLength: 16, dropout: { rate: Number.NaN, seed: 1 } }),
      InvalidArgumentError,
      'dropout.rate',
    );
    expectError(
      () => lshAttention(qk, v, { chunkLength: 4, dedupe: true, dropout: { rate: 0.1, seed: 1 } }),
      InvalidArgumentError,
      /dropout is not supported with dedupe/,
    );
  });

  it('replayed buckets of the wrong shape or dtype → named errors', () => {
    expectError(
      () => lshAttention(qk, v, { chunkLength: 4, buckets: zeros([1, 2, 2, 11], 'int32') }),
      ShapeMismatchError,
      'buckets',
      /\[1, 2, nHashes, 12\]/,
    );
    expectError(() => lshAttention(qk, v, { chunkLength: 4, buckets: zeros([1, 2, 2, 12]) }), DTypeError, 'buckets', /int32/);
    expectError(
      () => lshAttention(qk, v, { chunkLength: 4, nHashes: 3, buckets: zeros([1, 2, 2, 12], 'int32') }),
      ShapeMismatchError,
      /2 rounds but nHashes is 3/,
    );
  });
});
