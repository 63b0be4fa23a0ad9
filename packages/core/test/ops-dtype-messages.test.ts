/**
 * Ops that take a dtype refuse unknown dtype strings, and error messages print the values they
 * quote with `formatValue` (NaN / Infinity as such, never `null`; any input safe to print).
 */
import { describe, expect, it } from 'vitest';
import { memory } from '../src/engine.js';
import { DTypeError, InvalidArgumentError } from '../src/errors.js';
import { formatValue } from '../src/format.js';
import { arange, fill, ones, scalar, tensor, zeros } from '../src/ops/creation.js';
import { cast } from '../src/ops/elementwise.js';
import { pad, slice, split, transpose } from '../src/ops/layout.js';
import type { DType } from '../src/types.js';
import { thrown } from './helpers.js';

describe('ops taking a dtype reject unknown dtypes (DTypeError)', () => {
  const bad = ['float64', 'Float32', 'int64', 'bool', '', null, 32] as unknown as DType[];
  const ops: [string, (dt: DType) => unknown][] = [
    ['tensor', (dt) => tensor([1, 2], [2], dt)],
    ['tensor', (dt) => tensor(Float32Array.of(1, 2), [2], dt)],
    ['fill', (dt) => fill([2], 3, dt)],
    ['zeros', (dt) => zeros([2], dt)],
    ['ones', (dt) => ones([2], dt)],
    ['scalar', (dt) => scalar(1, dt)],
    ['arange', (dt) => arange(0, 3, 1, dt)],
    ['cast', (dt) => cast(x, dt)],
  ];
  const x = tensor([1.5, -2.5]);

  for (const [name, run] of ops) {
    it(`${name}`, () => {
      const before = memory().numTensors;
      for (const dt of bad) {
        const e = thrown(() => run(dt));
        expect(e, `${name}(${formatValue(dt)})`).toBeInstanceOf(DTypeError);
        expect(e.message).toContain(`${name}: unknown dtype ${formatValue(dt)}`);
        expect(e.message).toContain("'float32' and 'int32'");
      }
      expect(memory().numTensors, 'no tensor is left behind').toBe(before);
    });
  }

  it('the two dtypes still work, and tensor() without a dtype infers it', async () => {
    expect(zeros([2], 'int32').dtype).toBe('int32');
    expect(fill([1], 2.5, 'float32').dtype).toBe('float32');
    expect(Array.from(await cast(x, 'int32').data())).toEqual([1, -2]);
    expect(tensor(Int32Array.of(1)).dtype).toBe('int32');
    expect(tensor([1]).dtype).toBe('float32');
    expect(arange(3).dtype).toBe('int32');
  });
});

describe('error messages print NaN and Infinity, not null', () => {
  const x = zeros([2, 3]);

  it('shape checks', () => {
    expect(thrown(() => zeros([2, NaN])).message).toContain('[2,NaN]');
    expect(thrown(() => fill([Infinity], 0)).message).toContain('[Infinity]');
  });

  it('layout ops', () => {
    const s = thrown(() => slice(x, [0, NaN], [1, 1]));
    expect(s).toBeInstanceOf(InvalidArgumentError);
    expect(s.message).toContain('begin [0,NaN]');
    expect(s.message).not.toContain('null');
    expect(
      thrown(() =>
        pad(x, [
          [0, 0],
          [Infinity, 0],
        ]),
      ).message,
    ).toContain('[[0,0],[Infinity,0]]');
    expect(thrown(() => split(x, [1, -Infinity], 1)).message).toContain('[1,-Infinity]');
    expect(thrown(() => transpose(x, [0, 0])).message).toContain('perm [0,0]');
  });
});

describe('formatValue', () => {
  it('prints numbers as JavaScript does and the rest as compact JSON', () => {
    expect(formatValue(NaN)).toBe('NaN');
    expect(formatValue([Infinity, -Infinity, -0, 1.5])).toBe('[Infinity,-Infinity,-0,1.5]');
    expect(formatValue({ a: NaN, 'b c': ['x', null] })).toBe('{"a":NaN,"b c":["x",null]}');
    expect(formatValue(undefined)).toBe('undefined');
    expect(formatValue(12n)).toBe('12n');
    expect(formatValue(Symbol('s'))).toBe('Symbol(s)');
    expect(formatValue(function named() {})).toBe('function named');
    expect(formatValue(new Float32Array(3))).toBe('Float32Array(3)');
    expect(formatValue(new Map())).toBe('[object Map]');
  });

  it('cuts long and deep values and never throws or overflows the stack', () => {
    expect(formatValue(Array.from({ length: 20 }, (_, i) => i))).toBe('[0,1,2,3,4,5,6,7,... 12 more]');
    expect(formatValue('x'.repeat(500)).length).toBe(80);
    expect(formatValue('x'.repeat(500), 1000).length).toBeLessThan(220);
    let deep: unknown = 0;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(formatValue(deep)).toBe('[[[[[...]]]]]');
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(formatValue(cyclic, 200)).toBe('{"a":1,"self":{"a":1,"self":{"a":1,"self":{"a":1,"self":{...}}}}}');
    const getter = Object.defineProperty({}, 'boom', {
      enumerable: true,
      get() {
        throw new Error('boom');
      },
    });
    expect(formatValue(getter)).toBe('(a value that cannot be printed)');
    const { proxy, revoke } = Proxy.revocable([], {});
    revoke();
    expect(formatValue(proxy)).toBe('(a value that cannot be printed)');
  });
});
