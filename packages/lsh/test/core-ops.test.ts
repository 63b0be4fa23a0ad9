/**
 * The core ops the LSH path relies on, checked for exactly the properties it needs: argSort is stable
 * on int32 keys with many ties (so sorting the offset bucket ids sorts by round, bucket, position),
 * argSort of a permutation is its inverse, batched gather along the length axis (and its adjoint),
 * and the kernel's float32 logsumexp at the self logit (docs/attention-semantics.md §6).
 */
import { describe, expect, it } from 'vitest';
import { argSort, chunkedAttention, dispose, gather, gradients, sum, tensor, mul } from '@reformer/core';
import { Rng } from './brute-force.js';

describe('core ops used by lshAttention', () => {
  it('argSort is stable on int32 keys with ties (rows longer than the insertion-sort runs)', async () => {
    const rng = new Rng(3);
    for (const n of [7, 24, 25, 100, 1000, 4099]) {
      const rows = 3;
      const keys = Int32Array.from({ length: rows * n }, () => rng.int(0, 9));
      const got = await argSort(tensor(keys, [rows, n], 'int32'), -1).data();
      for (let r = 0; r < rows; r++) {
        const want = Array.from({ length: n }, (_, i) => i).sort((a, b) => keys[r * n + a]! - keys[r * n + b]! || a - b);
        expect(Array.from(got.subarray(r * n, (r + 1) * n))).toEqual(want);
      }
    }
  });

  it('argSort of a permutation is its inverse', async () => {
    const rng = new Rng(4);
    const n = 300;
    const perm = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [perm[i], perm[j]] = [perm[j]!, perm[i]!];
    }
    const inv = await argSort(tensor(Int32Array.from(perm), [1, n], 'int32')).data();
    expect(Array.from(inv, (x, i) => perm[x] === i).every(Boolean)).toBe(true);
  });

  it('gather along axis 2 with [B, H, n] indices, gradient = scatter-add (repeated indices accumulate)', async () => {
    const x = tensor(
      Float32Array.from({ length: 2 * 2 * 3 * 2 }, (_, i) => i),
      [2, 2, 3, 2],
    );
    const idx = tensor(Int32Array.from([2, 0, 2, 2, 1, 1, 0, 0, 0, 1, 2, 0]), [2, 2, 3], 'int32');
    const { value, grads } = gradients(
      () =>
        sum(
          mul(
            gather(x, idx, 2),
            tensor(
              Float32Array.from({ length: 24 }, () => 1),
              [2, 2, 3, 2],
            ),
          ),
        ),
      [x],
    );
    const g = Array.from(await grads[0]!.data());
    // Row (b, h) counts how often each of its 3 positions is gathered.
    expect(g).toEqual([1, 1, 0, 0, 2, 2, 0, 0, 2, 2, 1, 1, 3, 3, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
    const y = Array.from(await gather(x, idx, 2).data());
    expect(y.slice(0, 6)).toEqual([4, 5, 0, 1, 4, 5]);
    dispose([x, idx, value, grads]);
  });

  it('chunkedAttention rounds the logsumexp to float32 at the self logit', async () => {
    // Two slots holding position 0 in one chunk: the window holds nothing but two copies of the query.
    const q = tensor([
      [
        [
          [1, 0],
          [1, 0],
        ],
      ],
    ]);
    const v = tensor([[[[2], [2]]]]);
    const positions = tensor(Int32Array.from([0, 0]), [1, 1, 2], 'int32');
    const { out, lse } = chunkedAttention(q, q, v, { chunkLength: 2, chunksBefore: 0, excludeSelf: true, positions });
    const l = Array.from(await lse.data());
    expect(l[0]).toBe(Math.fround(-1e5 + Math.log(2)));
    // Weights exp(−1e5 − lse₃₂) ≠ 1/2: the output is 2·2·exp(−1e5 − lse₃₂), not 2.
    expect((await out.data())[0]).toBeCloseTo(4 * Math.exp(-1e5 - l[0]!), 6);
    dispose([q, v, positions, out, lse]);
  });
});
