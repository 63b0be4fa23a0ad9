import { describe, expect, it } from 'vitest';
import {
  DTypeError,
  ShapeMismatchError,
  dispose,
  gradients,
  matmul,
  mul,
  randomNormal,
  reshape,
  scalar,
  softmax,
  tensor,
  tidy,
  transpose,
  where,
  fill,
  type Tensor,
} from '@reformer/core';
import { CrossAttention, crossAttention } from '../src/index.js';

/** Brute force in float64: softmax over every unmasked key of scale·q·k (masked: −1e9), times v. */
function bruteForce(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  [B, H, Lq, Lk, d]: [number, number, number, number, number],
  mask: Int32Array | null,
  scale: number,
): Float64Array {
  const out = new Float64Array(B * H * Lq * d);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < Lq; i++) {
        const logits = new Float64Array(Lk);
        for (let j = 0; j < Lk; j++) {
          if (mask && mask[b * Lk + j] === 0) logits[j] = -1e9;
          else {
            let s = 0;
            for (let t = 0; t < d; t++) s += q[((b * H + h) * Lq + i) * d + t]! * k[((b * H + h) * Lk + j) * d + t]!;
            logits[j] = scale * s;
          }
        }
        const max = Math.max(...logits);
        const w = logits.map((l) => Math.exp(l - max));
        const z = w.reduce((a, x) => a + x, 0);
        for (let j = 0; j < Lk; j++)
          for (let t = 0; t < d; t++) out[((b * H + h) * Lq + i) * d + t]! += (w[j]! / z) * v[((b * H + h) * Lk + j) * d + t]!;
      }
  return out;
}

/** The same attention written with plain differentiable ops (the gradient reference). */
function plainOps(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null, scale: number): Tensor {
  return tidy(() => {
    let logits = mul(matmul(q, k, false, true), scalar(scale));
    if (mask) {
      const [B, Lk] = mask.shape as [number, number];
      logits = where(reshape(mask, [B, 1, 1, Lk]), logits, fill(logits.shape, -1e9));
    }
    return matmul(softmax(logits, -1), v);
  });
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

describe('crossAttention (fused kernel) against brute force and plain-op gradients', () => {
  const cases: [string, number, number, number | undefined, boolean][] = [
    ['equal lengths, dense', 7, 7, undefined, false],
    ['shorter queries, masked context', 3, 9, undefined, true],
    ['longer queries, masked context, query chunks of 4', 10, 6, 4, true],
    ['shorter queries, query chunks of 2', 5, 8, 2, false],
  ];
  for (const [name, Lq, Lk, queryChunk, masked] of cases) {
    it(name, () => {
      const [B, H, d] = [2, 2, 4];
      const q = randomNormal([B, H, Lq, d], { seed: 1 });
      const k = randomNormal([B, H, Lk, d], { seed: 2 });
      const v = randomNormal([B, H, Lk, d], { seed: 3 });
      const dy = randomNormal([B, H, Lq, d], { seed: 4 });
      const maskValues = Int32Array.from({ length: B * Lk }, (_, i) => (i % Lk === 1 || i === B * Lk - 1 ? 0 : 1));
      const mask = masked ? tensor(maskValues, [B, Lk], 'int32') : null;
      const scale = 0.7;
      const options = { scale, ...(mask ? { mask } : {}), ...(queryChunk ? { queryChunk } : {}) };
      const fused = gradients(() => crossAttention(q, k, v, options), [q, k, v], dy);
      const ref = gradients(() => plainOps(q, k, v, mask, scale), [q, k, v], dy);
      const brute = bruteForce(
        q.dataSync() as Float32Array,
        k.dataSync() as Float32Array,
        v.dataSync() as Float32Array,
        [B, H, Lq, Lk, d],
        mask ? maskValues : null,
        scale,
      );
      expect(fused.value.shape).toEqual([B, H, Lq, d]);
      expect(maxDiff(fused.value.dataSync(), brute)).toBeLessThan(1e-5);
      fused.grads.forEach((g, i) => expect(maxDiff(g.dataSync(), ref.grads[i]!.dataSync()), `gradient ${i}`).toBeLessThan(1e-5));
      if (mask) {
        // Masked keys get no gradient and no weight.
        const dk = fused.grads[1]!.dataSync();
        for (let b = 0; b < B; b++)
          for (let h = 0; h < H; h++)
            for (let j = 0; j < Lk; j++)
              if (maskValues[b * Lk + j] === 0) for (let t = 0; t < d; t++) expect(dk[((b * H + h) * Lk + j) * d + t]).toBe(0);
      }
      dispose([q, k, v, dy, fused.value, ...fused.grads, ref.value, ...ref.grads]);
      mask?.dispose();
    });
  }
});

describe('CrossAttention layer', () => {
  it('forward = output.dense(merged heads of the attention of the projected queries over the projected context)', () => {
    const layer = new CrossAttention({ hiddenSize: 6, contextSize: 10, numHeads: 2, headSize: 3, seed: 5, initStd: 0.5 });
    expect([...layer.namedParameters().keys()]).toEqual(['query.weight', 'key.weight', 'value.weight', 'output.dense.weight']);
    const hidden = randomNormal([2, 4, 6], { seed: 6 });
    const context = randomNormal([2, 7, 10], { seed: 7 });
    const contextMask = tensor(Int32Array.from([1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1]), [2, 7], 'int32');
    const y = layer.forward(hidden, context, { contextMask });
    const expected = tidy(() => {
      const split = (t: Tensor, L: number) => transpose(reshape(t, [2, L, 2, 3]), [0, 2, 1, 3]);
      const q = split(layer.query.forward(hidden), 4);
      const k = split(layer.key.forward(context), 7);
      const v = split(layer.value.forward(context), 7);
      const heads = transpose(plainOps(q, k, v, contextMask, 1 / Math.sqrt(3)), [0, 2, 1, 3]);
      return layer.output.forward(reshape(heads, [2, 4, 6]));
    });
    expect(y.shape).toEqual([2, 4, 6]);
    expect(maxDiff(y.dataSync(), expected.dataSync())).toBeLessThan(1e-5);
    // The masked context positions do not matter.
    const changed = tidy(() => {
      const c = context.dataSync().slice();
      for (const pos of [5, 6]) for (let t = 0; t < 10; t++) c[pos * 10 + t] = 100;
      return layer.forward(hidden, tensor(c, [2, 7, 10]), { contextMask });
    });
    expect(maxDiff(changed.dataSync(), y.dataSync())).toBeLessThan(1e-6);
    dispose([hidden, context, contextMask, y, expected, changed]);
    layer.dispose();
  });

  it('bad inputs get named errors', () => {
    const layer = new CrossAttention({ hiddenSize: 4, contextSize: 8, numHeads: 1, headSize: 4, seed: 1 });
    const hidden = randomNormal([2, 3, 4]);
    expect(() => layer.forward(hidden, randomNormal([2, 5, 4]))).toThrow(ShapeMismatchError);
    expect(() => layer.forward(hidden, randomNormal([1, 5, 8]))).toThrow(/batch size 2/);
    expect(() => layer.forward(hidden, randomNormal([2, 5, 8]), { contextMask: tensor(new Float32Array(10), [2, 5]) })).toThrow(DTypeError);
    expect(() => new CrossAttention({ hiddenSize: 4, numHeads: 1, headSize: 4, queryChunk: 0 })).toThrow(/queryChunk/);
    hidden.dispose();
    layer.dispose();
  });
});
