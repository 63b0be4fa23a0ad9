/** The validation vocabulary: each check accepts what it must, names the argument and the bad value otherwise. */
import { describe, expect, it } from 'vitest';
import {
  COMPARE_OPS,
  DTypeError,
  InvalidArgumentError,
  ShapeMismatchError,
  checkDivisor,
  checkEnum,
  checkInteger,
  checkNonNegative,
  checkNumber,
  checkPaddingMask,
  checkRate,
  checkTensorDType,
  isCompareOp,
  tensor,
  variable,
} from '../src/index.js';
import { thrown } from './helpers.js';

describe('checkInteger', () => {
  it('returns accepted values, including the bounds', () => {
    expect(checkInteger('f', 'n', 0)).toBe(0);
    expect(checkInteger('f', 'n', 1, 1)).toBe(1);
    expect(checkInteger('f', 'n', 9, 0, 9)).toBe(9);
    expect(checkInteger('f', 'n', Number.MAX_SAFE_INTEGER, 1)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('names the argument, the rule and the value', () => {
    const cases: [unknown, number, number, string][] = [
      [-1, 0, Infinity, 'f: n must be a non-negative integer, got -1.'],
      [0, 1, Infinity, 'f: n must be a positive integer, got 0.'],
      [1, 2, Infinity, 'f: n must be an integer ≥ 2, got 1.'],
      [10, 0, 9, 'f: n must be an integer in [0, 9], got 10.'],
      [2.5, 1, Infinity, 'f: n must be a positive integer, got 2.5.'],
      [NaN, 1, Infinity, 'f: n must be a positive integer, got NaN.'],
      [Infinity, 1, Infinity, 'f: n must be a positive integer, got Infinity.'],
      [2 ** 53, 1, Infinity, `f: n must be a positive integer, got ${2 ** 53}.`],
      ['3', 1, Infinity, 'f: n must be a positive integer, got "3".'],
      [undefined, 0, Infinity, 'f: n must be a non-negative integer, got undefined.'],
      [0.5, -Infinity, Infinity, 'f: n must be an integer, got 0.5.'],
    ];
    for (const [v, min, max, message] of cases) {
      const e = thrown(() => checkInteger('f', 'n', v, min, max));
      expect(e).toBeInstanceOf(InvalidArgumentError);
      expect(e.message).toBe(message);
    }
  });
});

describe('checkNumber and checkRate', () => {
  it('accept the ends that are included and reject the others', () => {
    expect(checkNumber('f', 'x', 0, 0, 1)).toBe(0);
    expect(checkNumber('f', 'x', 1, 0, 1)).toBe(1);
    expect(() => checkNumber('f', 'x', 0, 0, 1, { minInclusive: false })).toThrow('f: x must be a number in (0, 1], got 0.');
    expect(() => checkNumber('f', 'x', 1, 0, 1, { maxInclusive: false })).toThrow('f: x must be a number in [0, 1), got 1.');
    expect(() => checkNumber('f', 'x', -0.5, 0)).toThrow('f: x must be a number in [0, Infinity], got -0.5.');
    expect(checkRate('f', 'p', 0.5)).toBe(0.5);
    expect(() => checkRate('f', 'p', 1)).toThrow('f: p must be a number in [0, 1), got 1.');
  });

  it('reject NaN, infinities and non-numbers', () => {
    for (const v of [NaN, Infinity, -Infinity, '0.5', null]) {
      expect(thrown(() => checkNumber('f', 'x', v))).toBeInstanceOf(InvalidArgumentError);
    }
  });
});

describe('checkNonNegative', () => {
  it('accepts finite numbers ≥ 0 and names anything else', () => {
    expect(checkNonNegative('f', 'std', 0)).toBe(0);
    expect(checkNonNegative('f', 'std', 0.02)).toBe(0.02);
    for (const [v, shown] of [
      [-0.5, '-0.5'],
      [NaN, 'NaN'],
      [Infinity, 'Infinity'],
      ['0.1', '"0.1"'],
      [undefined, 'undefined'],
    ] as const) {
      const e = thrown(() => checkNonNegative('f', 'std', v));
      expect(e).toBeInstanceOf(InvalidArgumentError);
      expect(e.message).toBe(`f: std must be a finite non-negative number, got ${shown}.`);
    }
  });
});

describe('checkDivisor', () => {
  it('accepts a positive integer dividing the total and names the total otherwise', () => {
    expect(checkDivisor('f', 'chunkLength', 4, 12, 'the sequence length')).toBe(4);
    expect(checkDivisor('f', 'chunkLength', 12, 12, 'the sequence length')).toBe(12);
    for (const v of [5, 0, -4, 2.5, NaN, '4']) {
      expect(thrown(() => checkDivisor('f', 'chunkLength', v, 12, 'the sequence length'))).toBeInstanceOf(InvalidArgumentError);
    }
    expect(() => checkDivisor('f', 'chunkLength', 5, 12, 'the sequence length')).toThrow(
      'f: chunkLength must be a positive integer dividing the sequence length 12, got 5.',
    );
    expect(() => checkDivisor('f', 'chunkLength', 5, 12, 'the sequence length', 'Pad it first.')).toThrow(
      'f: chunkLength must be a positive integer dividing the sequence length 12, got 5. Pad it first.',
    );
  });
});

describe('checkEnum', () => {
  it('returns an allowed value and lists the allowed ones otherwise', () => {
    expect(checkEnum('f', 'mode', 'b', ['a', 'b'])).toBe('b');
    expect(() => checkEnum('f', 'mode', 'c', ['a', 'b'])).toThrow(`f: mode must be 'a' or 'b', got "c".`);
    expect(() => checkEnum('f', 'mode', 4, ['a', 'b', 'c'])).toThrow(`f: mode must be one of 'a', 'b' or 'c', got 4.`);
    expect(thrown(() => checkEnum('f', 'mode', undefined, ['a']))).toBeInstanceOf(InvalidArgumentError);
  });
});

describe('checkTensorDType', () => {
  it('throws DTypeError naming the tensor, its dtype and shape, and the cast', () => {
    const t = tensor([1, 2, 3, 4, 5, 6], [2, 3], 'int32');
    checkTensorDType('f', 'q', t, 'int32');
    const e = thrown(() => checkTensorDType('f', 'q', t, 'float32'));
    expect(e).toBeInstanceOf(DTypeError);
    expect(e.message).toBe("f: q must be a float32 tensor, got int32 [2, 3]; use cast(q, 'float32').");
    t.dispose();
  });
});

describe('checkPaddingMask', () => {
  it('accepts undefined and a 0/1 int32 [batch, length] mask', () => {
    checkPaddingMask('f', undefined, 2, 3);
    const m = tensor([1, 1, 0, 1, 0, 0], [2, 3], 'int32');
    checkPaddingMask('f', m, 2, 3);
    m.dispose();
  });

  it('names a wrong dtype, a wrong shape and the first bad value', () => {
    const f = tensor([1, 1, 1], [1, 3], 'float32');
    expect(thrown(() => checkPaddingMask('f', f, 1, 3))).toBeInstanceOf(DTypeError);
    const s = tensor([1, 1, 1], [1, 3], 'int32');
    const e = thrown(() => checkPaddingMask('f', s, 1, 4));
    expect(e).toBeInstanceOf(ShapeMismatchError);
    expect(e.message).toContain('[batch, length] = [1, 4], got [1, 3]');
    const bad = tensor([1, 0, 1, 2], [2, 2], 'int32');
    const v = thrown(() => checkPaddingMask('f', bad, 2, 2));
    expect(v).toBeInstanceOf(InvalidArgumentError);
    expect(v.message).toContain('got 2 at [1, 1]');
    for (const t of [f, s, bad]) t.dispose();
  });

  it('reads a Variable again each time (its values can change)', () => {
    const m = variable(tensor([1, 1], [1, 2], 'int32'));
    checkPaddingMask('f', m, 1, 2);
    m.assign(tensor([1, 3], [1, 2], 'int32'));
    expect(thrown(() => checkPaddingMask('f', m, 1, 2))).toBeInstanceOf(InvalidArgumentError);
    m.dispose();
  });
});

describe('compare ops', () => {
  it('lists the six comparisons and tells them from arithmetic', () => {
    expect([...COMPARE_OPS].sort()).toEqual(['equal', 'greater', 'greaterEqual', 'less', 'lessEqual', 'notEqual']);
    for (const op of COMPARE_OPS) expect(isCompareOp(op)).toBe(true);
    for (const op of ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'mod', 'floorDiv']) expect(isCompareOp(op)).toBe(false);
  });
});
