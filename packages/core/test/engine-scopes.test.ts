import { describe, expect, it } from 'vitest';
import { dispose, keep, memory, tidy, withBackend } from '../src/engine.js';
import { createCpuBackend } from '../src/cpu/index.js';
import { BackendMismatchError, DisposedTensorError, DTypeError, ReformerError, ShapeMismatchError } from '../src/errors.js';
import { ones, tensor, zeros } from '../src/ops/creation.js';
import { add, exp, mul } from '../src/ops/elementwise.js';
import { reshape } from '../src/ops/layout.js';
import { sum } from '../src/ops/reduce.js';
import { Tensor, variable } from '../src/tensor.js';

/** Live tensors / bytes / buffers of the current backend. */
function live(): { tensors: number; bytes: number; buffers: number } {
  const m = memory();
  return { tensors: m.liveTensors, bytes: m.liveBytes, buffers: m.liveBuffers };
}

describe('tidy', () => {
  it('disposes intermediates and keeps the returned tensor', () => {
    const before = live();
    let a!: Tensor;
    let b!: Tensor;
    const out = tidy(() => {
      a = ones([4]);
      b = exp(a);
      return mul(b, b);
    });
    expect(a.isDisposed).toBe(true);
    expect(b.isDisposed).toBe(true);
    expect(out.isDisposed).toBe(false);
    expect(Array.from(out.dataSync())).toEqual(
      Array.from(new Float32Array(4).fill(Math.fround(Math.E) * Math.fround(Math.E))).map(Math.fround),
    );
    expect(live().tensors).toBe(before.tensors + 1);
    out.dispose();
    expect(live()).toEqual(before);
  });

  it('keeps tensors returned in nested arrays, plain objects and maps', () => {
    const before = live();
    let dropped!: Tensor;
    const result = tidy(() => {
      dropped = zeros([2]);
      const t1 = ones([1]);
      const t2 = ones([2]);
      const t3 = ones([3]);
      const t4 = ones([4]);
      return { list: [t1, { deep: [t2] }], map: new Map([['t3', t3]]), n: 3, s: 'x', last: t4 };
    });
    expect(dropped.isDisposed).toBe(true);
    const t2 = (result.list[1] as { deep: Tensor[] }).deep[0]!;
    for (const t of [result.list[0] as Tensor, t2, result.map.get('t3')!, result.last]) expect(t.isDisposed).toBe(false);
    expect(result.n).toBe(3);
    expect(live().tensors).toBe(before.tensors + 4);
    dispose(result);
    expect(live()).toEqual(before);
  });

  it('nested scopes: an inner result belongs to the outer scope', () => {
    const before = live();
    let inner!: Tensor;
    let innerTemp!: Tensor;
    const out = tidy(() => {
      inner = tidy(() => {
        innerTemp = ones([3]);
        return add(innerTemp, innerTemp);
      });
      expect(innerTemp.isDisposed).toBe(true);
      expect(inner.isDisposed).toBe(false);
      return sum(inner);
    });
    // The outer scope did not return `inner`: it is gone now.
    expect(inner.isDisposed).toBe(true);
    expect(out.dataSync()[0]).toBe(6);
    out.dispose();
    expect(live()).toEqual(before);
  });

  it('throws on a Promise and leaves nothing behind', async () => {
    const before = live();
    let t!: Tensor;
    expect(() =>
      tidy(() => {
        t = ones([8]);
        return Promise.resolve(t);
      }),
    ).toThrow(ReformerError);
    expect(() => tidy(async () => 1)).toThrow(/Promise|synchronous/);
    expect(t.isDisposed).toBe(true);
    expect(live()).toEqual(before);
  });

  it('cleans up when the callback throws, and rethrows', () => {
    const before = live();
    let t!: Tensor;
    expect(() =>
      tidy(() => {
        t = ones([5]);
        exp(t);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(t.isDisposed).toBe(true);
    expect(live()).toEqual(before);
    // The scope stack is intact afterwards: a later tidy still works.
    const out = tidy(() => sum(ones([2])));
    expect(out.dataSync()[0]).toBe(2);
    out.dispose();
  });

  it('keep() protects a tensor from every scope', () => {
    const before = live();
    let kept!: Tensor;
    let other!: Tensor;
    tidy(() => {
      tidy(() => {
        kept = keep(ones([2]));
        other = ones([2]);
      });
    });
    expect(kept.isDisposed).toBe(false);
    expect(other.isDisposed).toBe(true);
    expect(keep(kept)).toBe(kept);
    kept.dispose();
    expect(live()).toEqual(before);
  });

  it('dispose() walks containers and is idempotent', () => {
    const before = live();
    const a = ones([2]);
    const b = ones([3]);
    const c = ones([4]);
    dispose({ a, rest: [b, { c }], n: 1 });
    expect([a, b, c].every((t) => t.isDisposed)).toBe(true);
    dispose([a, b, c]);
    a.dispose();
    expect(live()).toEqual(before);
  });
});

describe('views', () => {
  it('reshape shares storage: no new buffer, and the view outlives the original', () => {
    const before = live();
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const afterX = live();
    expect(afterX.bytes - before.bytes).toBe(24);
    const v = reshape(x, [3, 2]);
    expect(live().buffers).toBe(afterX.buffers);
    expect(live().bytes).toBe(afterX.bytes);
    expect(live().tensors).toBe(afterX.tensors + 1);
    x.dispose();
    expect(live().bytes).toBe(afterX.bytes);
    expect(Array.from(v.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(v.shape).toEqual([3, 2]);
    expect(() => exp(x)).toThrow(DisposedTensorError);
    v.dispose();
    expect(live()).toEqual(before);
  });

  it('a view made inside tidy and returned keeps the storage alive', () => {
    const before = live();
    const v = tidy(() => reshape(ones([2, 2]), [4]));
    expect(Array.from(v.dataSync())).toEqual([1, 1, 1, 1]);
    v.dispose();
    expect(live()).toEqual(before);
  });
});

describe('Variable', () => {
  it('shares the initial storage and survives the initial tensor', () => {
    const before = live();
    const t = tensor([1, 2, 3]);
    const v = variable(t, 'w');
    expect(live().buffers).toBe(before.buffers + 1);
    t.dispose();
    expect(Array.from(v.dataSync())).toEqual([1, 2, 3]);
    expect(v.name).toBe('w');
    v.dispose();
    expect(live()).toEqual(before);
  });

  it('assign() replaces the value, sharing the new storage and freeing the old one', () => {
    const before = live();
    const t = tensor([1, 2, 3]);
    const v = variable(t);
    t.dispose();
    expect(live()).toEqual({ tensors: before.tensors + 1, bytes: before.bytes + 12, buffers: before.buffers + 1 });
    const u = tensor([4, 5, 6]);
    v.assign(u);
    // The old storage had no other user: freed. The new one is shared with u.
    expect(live()).toEqual({ tensors: before.tensors + 2, bytes: before.bytes + 12, buffers: before.buffers + 1 });
    u.dispose();
    expect(Array.from(v.dataSync())).toEqual([4, 5, 6]);
    const w = tidy(() => add(v, ones([3])));
    v.assign(w);
    w.dispose();
    expect(Array.from(v.dataSync())).toEqual([5, 6, 7]);
    expect(live()).toEqual({ tensors: before.tensors + 1, bytes: before.bytes + 12, buffers: before.buffers + 1 });
    v.dispose();
    expect(live()).toEqual(before);
  });

  it('is not disposed by tidy', () => {
    const v = tidy(() => variable(ones([2])));
    expect(v.isDisposed).toBe(false);
    v.dispose();
  });

  it('assign() rejects another shape, dtype or backend with named errors', () => {
    const v = tidy(() => variable(zeros([2, 3]), 'layer.weight'));
    const badShape = zeros([3, 2]);
    const badType = zeros([2, 3], 'int32');
    const other = createCpuBackend();
    const elsewhere = withBackend(other, () => zeros([2, 3]));
    try {
      expect(() => v.assign(badShape)).toThrow(ShapeMismatchError);
      expect(() => v.assign(badShape)).toThrow(/\[3, 2\].*\[2, 3\]|\[2, 3\].*\[3, 2\]/);
      expect(() => v.assign(badShape)).toThrow(/layer\.weight/);
      expect(() => v.assign(badType)).toThrow(DTypeError);
      expect(() => v.assign(elsewhere)).toThrow(BackendMismatchError);
      expect(Array.from(v.dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
    } finally {
      dispose([v, badShape, badType, elsewhere]);
    }
  });
});
