/**
 * The cross-entropy row kernels against the CPU reference (vocabularies with and without a tail of
 * fewer than four classes, ignored rows, extreme logits), and a label out of range: the reference's
 * named error, nothing allocated.
 */
import { InvalidArgumentError, createCpuBackend, type Backend } from '@reformer/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WasmBackend } from '../src/index.js';
import { random, readTensor, worstRelative, writeTensor } from './helpers.js';
import { createWasm } from './setup.js';

describe('crossEntropy and its backward on SIMD rows', () => {
  let wasm: WasmBackend;
  const cpu = createCpuBackend();
  beforeAll(async () => {
    wasm = await createWasm();
  });
  afterAll(() => wasm.dispose());

  for (const [N, V] of [
    [5, 256],
    [7, 33],
    [3, 3],
    [4, 1],
  ] as const) {
    it(`N ${N}, V ${V}: loss, lse and dLogits match the reference (ignored rows, logits up to ±60)`, () => {
      const logits = random(N * V, N * 31 + V, 60);
      const labels = Int32Array.from({ length: N }, (_, i) => (i === 1 ? -100 : (i * 7 + 3) % V));
      const dLoss = random(N, V, 2);
      const run = <S>(be: Backend<S>) => {
        const x = writeTensor(be, logits, [N, V]);
        const t = writeTensor(be, labels, [N]);
        const d = writeTensor(be, dLoss, [N]);
        const { loss, lse } = be.crossEntropy!(x, t, -100);
        const grad = be.crossEntropyBackward!(x, t, lse, d, -100);
        const out = [readTensor(be, loss), readTensor(be, lse), readTensor(be, grad)];
        for (const k of [x, t, d, loss, lse, grad]) be.free(k.storage);
        return out;
      };
      const got = run(wasm);
      const want = run(cpu);
      // float32 exp (≈1 ulp) and sums against the reference's doubles.
      ['loss', 'lse', 'dLogits'].forEach((name, i) => expect(worstRelative(got[i]!, want[i]!, 1), name).toBeLessThanOrEqual(2e-6));
      expect(got[0]![1]).toBe(0); // the ignored row
      expect(Array.from(got[2]!.subarray(V, 2 * V)).every((g) => g === 0)).toBe(true);
      expect(wasm.memory().liveBytes).toBe(0);
    });
  }

  it('a label out of range gets the named error, and nothing stays allocated', () => {
    const x = writeTensor(wasm, random(6, 1, 1), [2, 3]);
    const t = writeTensor(wasm, Int32Array.of(0, 3), [2]);
    const before = wasm.memory().liveBytes;
    expect(() => wasm.crossEntropy(x, t, -100)).toThrow(InvalidArgumentError);
    expect(() => wasm.crossEntropy(x, t, -100)).toThrow(/label 3 of row 1 is out of range for 3 classes/);
    expect(wasm.memory().liveBytes).toBe(before);
    wasm.free(x.storage);
    wasm.free(t.storage);
  });
});
