import { describe, expect, it } from 'vitest';
import { createCpuBackend } from '../src/cpu/index.js';
import { dispose, withBackend } from '../src/engine.js';
import { BackendMismatchError } from '../src/errors.js';
import { tensor } from '../src/ops/creation.js';
import { add } from '../src/ops/elementwise.js';
import { moveTo } from '../src/ops/move.js';

describe('moveTo', () => {
  it('copies a tensor to another backend, where ops then accept it with that backend’s tensors', async () => {
    const a = createCpuBackend();
    const b = createCpuBackend();
    const x = withBackend(a, () => tensor([1.5, -2, 3, 4], [2, 2]));
    const y = withBackend(b, () => tensor([10, 20, 30, 40], [2, 2]));
    expect(() => add(x, y)).toThrow(BackendMismatchError);
    expect(() => add(x, y)).toThrow(/await moveTo\(t, backend\)/);
    const moved = await moveTo(x, b);
    expect(moved.ref().backend).toBe(b);
    expect([moved.shape, moved.dtype]).toEqual([[2, 2], 'float32']);
    const sum = add(moved, y);
    expect(Array.from(await sum.data())).toEqual([11.5, 18, 33, 44]);
    dispose([x, y, moved, sum]);
  });

  it('keeps int32 and makes an independent copy (writing the source does not change it)', async () => {
    const a = createCpuBackend();
    const ids = withBackend(a, () => tensor(Int32Array.from([3, 1, 2]), [3], 'int32'));
    const copy = await moveTo(ids, a);
    expect(copy).not.toBe(ids);
    expect(copy.dtype).toBe('int32');
    (ids.dataSync() as Int32Array)[0] = 99;
    expect(Array.from(await copy.data())).toEqual([3, 1, 2]);
    dispose([ids, copy]);
  });
});
