import { describe, expect, it } from 'vitest';
import {
  DTypeError,
  InvalidArgumentError,
  ShapeMismatchError,
  add,
  crossEntropy,
  dispose,
  gradients,
  matmul,
  memory,
  resetPeak,
  slice,
  tensor,
  tidy,
  type Tensor,
} from '@reformer/core';
import { ChunkedLMHead, chunkedCrossEntropy } from '../src/index.js';
import { expectClose, labelsOf, maxAbs, rand } from './helpers.js';

/** The reference: materialised logits and core's crossEntropy (mean over non-ignored labels). */
function referenceLoss(hidden: Tensor, weight: Tensor, labels: Tensor, shift: boolean, bias?: Tensor): Tensor {
  return tidy(() => {
    const [b, l, d] = hidden.shape as [number, number, number];
    const h = shift ? slice(hidden, [0, 0, 0], [b, l - 1, d]) : hidden;
    const y = shift ? slice(labels, [0, 1], [b, l - 1]) : labels;
    const z = matmul(h, weight, false, true);
    return crossEntropy(bias ? add(z, bias) : z, y, { ignoreIndex: -100 });
  });
}

describe('chunkedCrossEntropy / ChunkedLMHead.loss', () => {
  const B = 2;
  const L = 11;
  const D = 6;
  const V = 13;
  for (const shift of [false, true]) {
    for (const withBias of [false, true]) {
      it(`equals crossEntropy of the full logits, value and gradients (shift ${shift}, bias ${withBias}, ignored labels)`, () => {
        const hidden = rand([B, L, D], 1);
        const weight = rand([V, D], 2);
        const bias = rand([V], 3);
        const labels = labelsOf([B, L], V, 4, 4);
        const wrt = withBias ? [hidden, weight, bias] : [hidden, weight];
        const want = gradients(() => referenceLoss(hidden, weight, labels, shift, withBias ? bias : undefined), wrt);
        expect(want.value.dataSync()[0]).toBeGreaterThan(0.5);
        for (const chunkSize of [1, 3, 4, 0, 64]) {
          const got = gradients(
            () => chunkedCrossEntropy(hidden, weight, labels, { shift, chunkSize, bias: withBias ? bias : undefined }),
            wrt,
          );
          expect(got.value.shape).toEqual([]);
          expectClose(got.value, want.value, { atol: 1e-6, rtol: 1e-5 }, `loss, chunk ${chunkSize}`);
          want.grads.forEach((g, i) => {
            expect(maxAbs(g)).toBeGreaterThan(1e-4);
            expectClose(got.grads[i]!, g, { atol: 1e-6, rtol: 1e-4 }, `grad ${i}, chunk ${chunkSize}`);
          });
          dispose(got);
        }
        dispose([want, hidden, weight, bias, labels]);
      });
    }
  }

  it('ChunkedLMHead: names, logits, loss (causal and masked) and gradients; the bias is unused by default', () => {
    const head = new ChunkedLMHead({ hiddenSize: D, vocabSize: V, chunkSize: 4, initStd: 0.5, seed: 1 });
    const names = new Map([...head.namedParameters()].map(([n, v]) => [n, v.shape]));
    expect(names).toEqual(
      new Map([
        ['decoder.weight', [V, D]],
        ['bias', [V]],
      ]),
    );
    head.loadStateDict(new Map([['bias', rand([V], 9)]]), { strict: false }); // must not matter
    const hidden = rand([B, L, D], 5);
    const labels = labelsOf([B, L], V, 6, 3);
    const logits = head.forward(hidden);
    const plain = matmul(hidden, head.decoder.weight, false, true);
    expectClose(logits, plain, { atol: 0, rtol: 0 });
    for (const shift of [false, true]) {
      const got = gradients(() => head.loss(hidden, labels, { shift }), [hidden, head.decoder.weight, head.bias]);
      const want = gradients(() => referenceLoss(hidden, head.decoder.weight, labels, shift), [hidden, head.decoder.weight]);
      expectClose(got.value, want.value, { atol: 1e-6, rtol: 1e-5 });
      expectClose(got.grads[0]!, want.grads[0]!, { atol: 1e-6, rtol: 1e-4 });
      expectClose(got.grads[1]!, want.grads[1]!, { atol: 1e-6, rtol: 1e-4 });
      expect(maxAbs(got.grads[2]!)).toBe(0); // as Hugging Face: lm_head.bias gets no gradient
      dispose([got, want]);
    }
    dispose([hidden, labels, logits, plain]);
    head.dispose();
  });

  it('ChunkedLMHead with bias: true adds the bias (Hugging Face 4.x) in forward and loss', () => {
    const head = new ChunkedLMHead({ hiddenSize: D, vocabSize: V, bias: true, chunkSize: 5, seed: 2 });
    head.loadStateDict(new Map([['bias', rand([V], 9)]]), { strict: false });
    const hidden = rand([B, L, D], 7);
    const labels = labelsOf([B, L], V, 8);
    const logits = head.forward(hidden);
    const want = tidy(() => add(matmul(hidden, head.decoder.weight, false, true), head.bias));
    expectClose(logits, want, { atol: 1e-6 });
    const wrt = [head.decoder.weight, head.bias];
    const got = gradients(() => head.loss(hidden, labels, { shift: true }), wrt);
    const ref = gradients(() => referenceLoss(hidden, head.decoder.weight, labels, true, head.bias), wrt);
    expectClose(got.value, ref.value, { atol: 1e-6, rtol: 1e-5 });
    expect(maxAbs(ref.grads[1]!)).toBeGreaterThan(1e-3);
    expectClose(got.grads[0]!, ref.grads[0]!, { atol: 1e-6, rtol: 1e-4 });
    expectClose(got.grads[1]!, ref.grads[1]!, { atol: 1e-6, rtol: 1e-4 });
    dispose([hidden, labels, logits, want, got, ref]);
    head.dispose();
  });

  it('all labels ignored (or a single position with shift): loss 0 and zero gradients, as core crossEntropy', () => {
    const hidden = rand([1, 4, 3], 1);
    const weight = rand([5, 3], 2);
    const ignored = tensor(new Int32Array([-100, -100, -100, -100]), [1, 4], 'int32');
    const a = gradients(() => chunkedCrossEntropy(hidden, weight, ignored, { chunkSize: 2 }), [hidden, weight]);
    expect(a.value.dataSync()[0]).toBe(0);
    expect(maxAbs(a.grads[0]!) + maxAbs(a.grads[1]!)).toBe(0);
    const one = rand([2, 1, 3], 3);
    const lab = tensor(new Int32Array([1, 2]), [2, 1], 'int32');
    const b = gradients(() => chunkedCrossEntropy(one, weight, lab, { shift: true }), [one, weight]);
    expect(b.value.dataSync()[0]).toBe(0);
    expect(b.grads[0]!.shape).toEqual([2, 1, 3]);
    dispose([hidden, weight, ignored, a, one, lab, b]);
  });

  it('peak memory is well below that of the materialised logits (V = 2048)', () => {
    // Measured as peakBytes − liveBytes at resetPeak() (hidden, weight and labels exist before).
    // The chunked peak is O(V·D) (the weight gradient and its per-chunk accumulation) + O(chunk·V),
    // independent of the length; the materialised one holds [B, L, V] logits and their gradient.
    const [b, l, d, v] = [1, 1024, 32, 2048];
    const hidden = rand([b, l, d], 1, 0.1);
    const weight = rand([v, d], 2, 0.1);
    const labels = labelsOf([b, l], v, 3);
    const measure = (f: () => Tensor): number => {
      resetPeak();
      const base = memory().liveBytes;
      const out = gradients(f, [hidden, weight]);
      const peak = memory().peakBytes - base;
      dispose(out);
      return peak;
    };
    const full = measure(() => referenceLoss(hidden, weight, labels, true));
    const chunkedPeak = measure(() => chunkedCrossEntropy(hidden, weight, labels, { shift: true, chunkSize: 16 }));
    const logitsBytes = b * l * v * 4;
    expect(full).toBeGreaterThan(logitsBytes);
    expect(chunkedPeak).toBeLessThan(logitsBytes / 4);
    expect(chunkedPeak).toBeLessThan(full / 8);
    dispose([hidden, weight, labels]);
  });

  it('rejects bad labels and chunk sizes with named errors', () => {
    const hidden = rand([2, 5, 3], 1);
    const weight = rand([7, 3], 2);
    const labels = labelsOf([2, 5], 7, 3);
    const wrongShape = labelsOf([2, 4], 7, 3);
    const flat = labelsOf([10], 7, 3);
    const floats = rand([2, 5], 4);
    expect(() => chunkedCrossEntropy(hidden, weight, wrongShape)).toThrow(ShapeMismatchError);
    expect(() => chunkedCrossEntropy(hidden, weight, flat)).toThrow(/labels/);
    expect(() => chunkedCrossEntropy(hidden, weight, floats)).toThrow(DTypeError);
    expect(() => chunkedCrossEntropy(hidden, rand([7, 4], 5), labels)).toThrow(/weight/);
    for (const chunkSize of [-1, 2.5]) {
      expect(() => chunkedCrossEntropy(hidden, weight, labels, { chunkSize })).toThrow(InvalidArgumentError);
      expect(() => chunkedCrossEntropy(hidden, weight, labels, { chunkSize })).toThrow(/chunkSize/);
    }
    const head = new ChunkedLMHead({ hiddenSize: 3, vocabSize: 7 });
    expect(() => head.loss(hidden, wrongShape)).toThrow(ShapeMismatchError);
    expect(() => new ChunkedLMHead({ hiddenSize: 3, vocabSize: 7, chunkSize: -2 })).toThrow(/chunkSize/);
    dispose([hidden, weight, labels, wrongShape, flat, floats]);
    head.dispose();
  });

  it('leaks no tensors', () => {
    const head = new ChunkedLMHead({ hiddenSize: 4, vocabSize: 9, chunkSize: 3, bias: true });
    const hidden = rand([2, 7, 4], 1);
    const labels = labelsOf([2, 7], 9, 2, 5);
    const before = memory().liveTensors;
    dispose(gradients(() => head.loss(hidden, labels, { shift: true }), [hidden, ...head.parameters()]));
    head.loss(hidden, labels).dispose();
    head.forward(hidden).dispose();
    expect(memory().liveTensors).toBe(before);
    dispose([hidden, labels]);
    head.dispose();
  });
});
