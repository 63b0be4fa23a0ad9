/**
 * Bad input: every misuse throws the named error class of `errors.ts` with a message that says what
 * was wrong (shapes, dtypes, axes, backends), and leaves no tensor behind.
 */
import { expect, it } from 'vitest';
import { dispose } from '../engine.js';
import {
  AxisError,
  BackendMismatchError,
  BroadcastError,
  DisposedTensorError,
  DTypeError,
  InvalidArgumentError,
  ReformerError,
  ShapeMismatchError,
} from '../errors.js';
import { tensor, zeros } from '../ops/creation.js';
import { add, exp, mul } from '../ops/elementwise.js';
import { chunkedAttention, layerNorm } from '../ops/fused.js';
import { concat, gather, reshape, scatterAdd } from '../ops/layout.js';
import { matmul } from '../ops/matmul.js';
import { softmax, sum } from '../ops/reduce.js';
import type { Tensor } from '../tensor.js';
import { assertNoLeak, on, snapshot, type SuiteContext } from './harness.js';

type ErrorClass = abstract new (...args: never[]) => Error;

/** Runs `fn`, expecting an error of class `cls` whose message contains every `parts` entry (string or regex). */
function expectThrows(ctx: SuiteContext, fn: () => unknown, cls: ErrorClass, parts: (string | RegExp)[], what: string): void {
  const before = snapshot(ctx.backend);
  let caught: unknown;
  try {
    on(ctx.backend, fn);
  } catch (err) {
    caught = err;
  }
  if (caught === undefined) throw new Error(`${what}: expected ${cls.name}, nothing was thrown`);
  if (!(caught instanceof cls)) {
    throw new Error(`${what}: expected ${cls.name}, got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`);
  }
  expect(caught).toBeInstanceOf(ReformerError);
  expect(caught.name, `${what}: error name`).toBe(cls.name);
  for (const part of parts) {
    if (typeof part === 'string') expect(caught.message, `${what}: message`).toContain(part);
    else expect(caught.message, `${what}: message`).toMatch(part);
  }
  assertNoLeak(before, snapshot(ctx.backend), `${what} (after the error)`);
}

/**
 * An index error of a data-dependent check: thrown by the call on a backend that checks on the host
 * (`indexErrors: 'call'`, message with every `callParts` entry), else a rejection of the first
 * readback of the result's first tensor (message with every `readbackParts` entry); an
 * `InvalidArgumentError` either way, and nothing leaks. `fn` returns a tensor or attention's `{ out, lse }`.
 */
async function expectIndexError(
  ctx: SuiteContext,
  fn: () => Tensor | { out: Tensor; lse: Tensor },
  what: string,
  callParts: (string | RegExp)[],
  readbackParts: (string | RegExp)[],
): Promise<void> {
  if (ctx.indexErrors === 'call') {
    expectThrows(ctx, fn, InvalidArgumentError, callParts, what);
    return;
  }
  const before = snapshot(ctx.backend);
  const result = on(ctx.backend, fn);
  const outs = 'lse' in result ? [result.out, result.lse] : [result];
  let caught: unknown;
  try {
    await outs[0]!.data();
  } catch (err) {
    caught = err;
  } finally {
    dispose(outs);
  }
  if (!(caught instanceof InvalidArgumentError)) {
    throw new Error(
      `${what}: expected InvalidArgumentError from data(), got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`,
    );
  }
  for (const part of readbackParts) {
    if (typeof part === 'string') expect(caught.message, `${what}: message`).toContain(part);
    else expect(caught.message, `${what}: message`).toMatch(part);
  }
  assertNoLeak(before, snapshot(ctx.backend), `${what} (after the error)`);
}

/**
 * The index checks of a backend that reports them at readback: each bad op returns a tensor whose
 * `data()` rejects with `InvalidArgumentError` (message as for `'call'`), nothing leaks, and a later
 * readback of a correct result succeeds (the error is reported once).
 */
async function indexErrorsAtReadback(ctx: SuiteContext): Promise<void> {
  const be = ctx.backend;
  const xs = Float32Array.from({ length: 12 }, (_, i) => i + 1);
  const [x, high, low, u, ok] = on(be, () => [
    tensor(xs, [4, 3]),
    tensor(Int32Array.of(0, 4), [2]),
    tensor(Int32Array.of(-1, 1), [2]),
    zeros([2, 3]),
    tensor(Int32Array.of(3, 0), [2]),
  ]);
  try {
    const cases: [() => Tensor, string, string][] = [
      [() => gather(x!, high!, 0), '4', 'gather index 4 of 4 rows'],
      [() => gather(x!, low!, 0), '-1', 'gather index -1'],
      [() => scatterAdd(u!, high!, 0, 4), '4', 'scatterAdd index 4 into size 4'],
    ];
    for (const [fn, value, what] of cases) {
      const before = snapshot(be);
      const out = on(be, fn);
      let caught: unknown;
      try {
        await out.data();
      } catch (err) {
        caught = err;
      } finally {
        out.dispose();
      }
      if (caught === undefined) throw new Error(`${what}: expected InvalidArgumentError from data(), it resolved`);
      if (!(caught instanceof InvalidArgumentError)) {
        throw new Error(
          `${what}: expected InvalidArgumentError, got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`,
        );
      }
      expect(caught.name, `${what}: error name`).toBe('InvalidArgumentError');
      expect(caught.message, `${what}: message`).toMatch(/index|indices/i);
      expect(caught.message, `${what}: message`).toContain(value);
      assertNoLeak(before, snapshot(be), `${what} (after the error)`);
      // Reported once: a correct gather reads back normally afterwards.
      const good = on(be, () => gather(x!, ok!, 0));
      try {
        expect(Array.from(await good.data()), `${what}: a correct gather after the error`).toEqual([...xs.slice(9, 12), ...xs.slice(0, 3)]);
      } finally {
        good.dispose();
      }
    }
  } finally {
    dispose([x!, high!, low!, u!, ok!]);
  }
}

/** Declares the bad-input tests (inside the caller's `describe`). */
export function misuseTests(ctx: SuiteContext): void {
  const withTensors = (make: () => Tensor[], body: (ts: Tensor[]) => void) => {
    const ts = on(ctx.backend, make);
    try {
      body(ts);
    } finally {
      dispose(ts);
    }
  };

  it('shape mismatch names both shapes (ShapeMismatchError)', () => {
    withTensors(
      () => [zeros([2, 3]), zeros([4, 5]), zeros([2, 3, 8]), zeros([7]), zeros([3, 2])],
      ([a, b, x, g, c]) => {
        expectThrows(ctx, () => matmul(a!, b!), ShapeMismatchError, ['[2, 3]', '[4, 5]'], 'matmul [2, 3]·[4, 5]');
        expectThrows(ctx, () => layerNorm(x!, g!, g!), ShapeMismatchError, ['[7]', '[2, 3, 8]'], 'layerNorm gamma [7] for x [2, 3, 8]');
        expectThrows(ctx, () => concat([a!, c!], 0), ShapeMismatchError, ['[2, 3]', '[3, 2]'], 'concat [2, 3] + [3, 2] on axis 0');
        expectThrows(ctx, () => reshape(a!, [4, 2]), ShapeMismatchError, ['[2, 3]', '[4, 2]'], 'reshape [2, 3] → [4, 2]');
      },
    );
  });

  it('broadcast failure names both shapes (BroadcastError)', () => {
    withTensors(
      () => [zeros([2, 3]), zeros([4, 3]), zeros([3, 1, 5]), zeros([2, 4])],
      ([a, b, c, d]) => {
        expectThrows(ctx, () => add(a!, b!), BroadcastError, ['[2, 3]', '[4, 3]', /broadcast/i], 'add [2, 3] + [4, 3]');
        expectThrows(ctx, () => mul(c!, d!), BroadcastError, ['[3, 1, 5]', '[2, 4]'], 'mul [3, 1, 5] · [2, 4]');
      },
    );
  });

  it('dtype mismatch names the dtypes (DTypeError)', () => {
    withTensors(
      () => [zeros([3]), zeros([3], 'int32')],
      ([f, i]) => {
        expectThrows(ctx, () => add(f!, i!), DTypeError, ['float32', 'int32'], 'add float32 + int32');
        expectThrows(ctx, () => exp(i!), DTypeError, ['int32', 'float32'], 'exp of int32');
        expectThrows(ctx, () => softmax(i!), DTypeError, ['int32'], 'softmax of int32');
        expectThrows(ctx, () => gather(f!, f!, 0), DTypeError, ['int32'], 'gather with float32 indices');
      },
    );
  });

  it('tensors of two backends in one op (BackendMismatchError)', () => {
    if (ctx.second === ctx.backend) throw new Error(`the factory of '${ctx.name}' must return a new backend instance on every call`);
    const a = on(ctx.backend, () => zeros([2]));
    const b = on(ctx.second, () => zeros([2]));
    try {
      expectThrows(ctx, () => add(a, b), BackendMismatchError, [ctx.backend.name, /backend/i], 'add across two backend instances');
      expectThrows(ctx, () => concat([a, b]), BackendMismatchError, [ctx.backend.name], 'concat across two backend instances');
    } finally {
      dispose([a, b]);
    }
  });

  it('use after dispose (DisposedTensorError)', async () => {
    const x = on(ctx.backend, () => tensor([1, 2, 3]));
    x.dispose();
    expect(x.isDisposed).toBe(true);
    expectThrows(ctx, () => exp(x), DisposedTensorError, [/dispos/i, '[3]'], 'exp of a disposed tensor');
    expectThrows(ctx, () => sum(x), DisposedTensorError, [/dispos/i], 'sum of a disposed tensor');
    await expect(x.data()).rejects.toBeInstanceOf(DisposedTensorError);
  });

  it('invalid axis (AxisError)', () => {
    withTensors(
      () => [zeros([2, 3]), zeros([2], 'int32')],
      ([x, i]) => {
        expectThrows(ctx, () => sum(x!, 2), AxisError, ['2', 'rank 2'], 'sum axis 2 of rank 2');
        expectThrows(ctx, () => sum(x!, [0, -3]), AxisError, ['-3'], 'sum axis -3 of rank 2');
        expectThrows(ctx, () => softmax(x!, 5), AxisError, ['5'], 'softmax axis 5');
        expectThrows(ctx, () => concat([x!, x!], 2), AxisError, ['2'], 'concat axis 2');
        expectThrows(ctx, () => gather(x!, i!, 3), AxisError, ['3'], 'gather axis 3');
      },
    );
  });

  it('gather / scatterAdd index out of range (InvalidArgumentError)', async () => {
    if (ctx.indexErrors === 'readback') {
      await indexErrorsAtReadback(ctx);
      return;
    }
    withTensors(
      () => [zeros([4, 3]), tensor(Int32Array.of(0, 4), [2]), tensor(Int32Array.of(-1, 1), [2]), zeros([2, 3])],
      ([x, high, low, u]) => {
        expectThrows(ctx, () => gather(x!, high!, 0), InvalidArgumentError, [/index|indices/i, '4'], 'gather index 4 of 4 rows');
        expectThrows(ctx, () => gather(x!, low!, 0), InvalidArgumentError, [/index|indices/i, '-1'], 'gather index -1');
        expectThrows(
          ctx,
          () => scatterAdd(u!, high!, 0, 4),
          InvalidArgumentError,
          [/index|indices/i, '4'],
          'scatterAdd index 4 into size 4',
        );
      },
    );
  });

  it('chunkedAttention positions outside its keyMask (InvalidArgumentError, at the call or at readback as gather)', async () => {
    const be = ctx.backend;
    const q = on(be, () =>
      tensor(
        Float32Array.from({ length: 16 }, (_, i) => Math.sin(i + 1)),
        [1, 2, 4, 2],
      ),
    );
    const keyMask = on(be, () => tensor(Int32Array.of(1, 1, 0, 1), [1, 4]));
    const slots = (...p: number[]) => on(be, () => tensor(Int32Array.from(p), [1, 2, 4]));
    const good = slots(0, 1, 2, 3, 3, 2, 1, 0);
    const bad: [Tensor, string][] = [
      [slots(0, 1, 2, 3, 3, 4, 1, 0), '4'],
      [slots(0, -1, 2, 3, 3, 2, 1, 0), '-1'],
      [slots(0, 1, 2, 3, 3, 2, 1, 1000), '1000'],
    ];
    const run = (positions: Tensor) => chunkedAttention(q, q, q, { chunkLength: 2, causal: true, positions, keyMask });
    try {
      for (const [positions, value] of bad) {
        const what = `chunkedAttention with position ${value} and a keyMask of length 4`;
        await expectIndexError(ctx, () => run(positions), what, [/position/, value, '0..3'], [/position/, value]);
      }
      // In range: runs and reads back (after an error, that error is not reported again).
      const r = on(be, () => run(good));
      try {
        const out = await r.out.data();
        expect(out.length).toBe(16);
        expect(Array.from(out).every(Number.isFinite), 'finite outputs for in-range positions').toBe(true);
      } finally {
        dispose([r.out, r.lse]);
      }
    } finally {
      dispose([q, keyMask, good, ...bad.map(([t]) => t)]);
    }
  });

  it('chunkedAttention byPosition without positions or with positions beyond the rows (InvalidArgumentError, at the call or at readback as gather)', async () => {
    const be = ctx.backend;
    const rows = on(be, () =>
      tensor(
        Float32Array.from({ length: 12 }, (_, i) => Math.cos(i + 1)),
        [1, 2, 3, 2],
      ),
    );
    const farRow = on(be, () => tensor(Int32Array.of(0, 1, 2, 3, 0, 1, 2, 2), [1, 2, 4], 'int32'));
    const farRows = () => chunkedAttention(rows, rows, rows, { chunkLength: 2, byPosition: true, positions: farRow });
    try {
      expectThrows(
        ctx,
        () => chunkedAttention(rows, rows, rows, { chunkLength: 2, byPosition: true }),
        InvalidArgumentError,
        [/byPosition/, /positions/],
        'byPosition without positions',
      );
      await expectIndexError(ctx, farRows, 'byPosition with position 3 for 3 rows', [/position/, '3', '0..2'], [/position/]);
    } finally {
      dispose([rows, farRow]);
    }
  });

  it('chunkedAttention with a chunkLength that does not divide N (InvalidArgumentError)', () => {
    withTensors(
      () => [zeros([1, 1, 6, 2])],
      ([q]) => {
        expectThrows(
          ctx,
          () => chunkedAttention(q!, q!, q!, { chunkLength: 4 }),
          InvalidArgumentError,
          ['chunkLength', '4', '6'],
          'chunkLength 4 for N = 6',
        );
        expectThrows(ctx, () => chunkedAttention(q!, q!, q!, { chunkLength: 0 }), InvalidArgumentError, ['chunkLength'], 'chunkLength 0');
      },
    );
  });
}
