/** Backend-specific behaviour: stable argsort with many ties, interop, memory extras. */
import { add, argSort, dispose, tensor, type Tensor } from '@reformer/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromTf, toTf, type TfjsBackend } from '../src/index.js';
import { onBackend } from './helpers.js';
import { createWasm, tf } from './setup-wasm.js';

let be: TfjsBackend;

/** The tfjs data id behind a core tensor's storage. */
function toTfDataId(x: Tensor): object {
  return (x.ref().storage as { dataId: object }).dataId;
}
beforeAll(async () => {
  be = await createWasm();
});

function stableRef(values: ArrayLike<number>, rows: number, n: number): Int32Array {
  const out = new Int32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    const idx = Array.from({ length: n }, (_, i) => i);
    idx.sort((i, j) => values[r * n + i]! - values[r * n + j]! || i - j);
    out.set(idx, r * n);
  }
  return out;
}

describe('argSort is stable on tfjs', () => {
  for (const [rows, n, distinct] of [
    [3, 1000, 3],
    [2, 4097, 2],
    [1, 5000, 50],
  ] as const) {
    for (const dtype of ['float32', 'int32'] as const) {
      it(`${rows}×${n} ${dtype} keys with ${distinct} distinct values`, async () => {
        let s = 7;
        const vals = Array.from({ length: rows * n }, () => {
          s = (Math.imul(s, 1103515245) + 12345) >>> 0;
          return ((s >>> 8) % distinct) - 1;
        });
        const got = await onBackend(be, async () => {
          const x = dtype === 'int32' ? tensor(Int32Array.from(vals), [rows, n], 'int32') : tensor(Float32Array.from(vals), [rows, n]);
          const o = argSort(x);
          const data = await o.data();
          dispose([x, o]);
          return Array.from(data);
        });
        expect(got).toEqual(Array.from(stableRef(vals, rows, n)));
      });
    }
  }

  it('NaN keys go last in their original order', async () => {
    const vals = [NaN, 2, -Infinity, NaN, Infinity, 2, 0];
    const got = await onBackend(be, async () => {
      const x = tensor(Float32Array.from(vals), [7]);
      const o = argSort(x);
      const data = Array.from(await o.data());
      dispose([x, o]);
      return data;
    });
    expect(got).toEqual([2, 6, 1, 5, 4, 0, 3]);
  });
});

describe('interop with tfjs tensors', () => {
  it('fromTf wraps without copying and leaves the caller owning its tensor', async () => {
    const t = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const before = tf.memory().numDataBuffers;
    const x = fromTf(t, be);
    expect(tf.memory().numDataBuffers).toBe(before); // shared buffer, no copy
    expect(toTfDataId(x)).toBe(t.dataId);
    expect(x.shape).toEqual([2, 2]);
    t.dispose(); // the core tensor keeps its own reference
    const y: Tensor = await onBackend(be, () => add(x, x));
    expect(Array.from(await y.data())).toEqual([2, 4, 6, 8]);
    dispose([x, y]);
  });

  it('toTf returns a tfjs handle on the same data, owned by the caller', async () => {
    const x = await onBackend(be, () => tensor([5, 6, 7], [3]));
    const before = tf.memory().numDataBuffers;
    const t = toTf(x);
    expect(tf.memory().numDataBuffers).toBe(before);
    expect(t.dataId).toBe(toTfDataId(x));
    expect(Array.from(await t.data())).toEqual([5, 6, 7]);
    x.dispose();
    expect(Array.from(await t.data())).toEqual([5, 6, 7]);
    t.dispose();
  });

  it('memory() reports exact live bytes plus tfjs numBytes', async () => {
    const m0 = be.memory();
    const s = be.write(new Float32Array(10), 'float32');
    const m1 = be.memory();
    expect(m1.liveBytes - m0.liveBytes).toBe(40);
    expect(typeof m1.tfjsBytes).toBe('number');
    be.free(s);
    expect(be.memory().liveBytes).toBe(m0.liveBytes);
  });
});
