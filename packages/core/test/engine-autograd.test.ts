import { describe, expect, it } from 'vitest';
import { customGrad, gradients, grad, noGrad, valueAndGrad } from '../src/autograd.js';
import { dispose, memory, tidy } from '../src/engine.js';
import { GradientError } from '../src/errors.js';
import { ones, scalar, tensor, zeros } from '../src/ops/creation.js';
import { add, exp, mul, square, sub, tanh } from '../src/ops/elementwise.js';
import { matmul } from '../src/ops/matmul.js';
import { mean, sum } from '../src/ops/reduce.js';
import type { Tensor } from '../src/tensor.js';
import { Rng } from '../src/testing/cases.js';

function live(): { tensors: number; bytes: number; buffers: number } {
  const m = memory();
  return { tensors: m.liveTensors, bytes: m.liveBytes, buffers: m.liveBuffers };
}

function randomArray(rng: Rng, n: number, lo = -1, hi = 1): Float64Array {
  return Float64Array.from({ length: n }, () => Math.fround(rng.uniform(lo, hi)));
}

const values = (t: Tensor): number[] => Array.from(t.dataSync());

/**
 * f(x, W, b, c) = Σ tanh(x·W + b) ⊙ c + mean(x²) + Σ exp(x)/10, written on the host in float64.
 * x [3, 4], W [4, 5], b [5], c [3, 5].
 */
function hostF(x: Float64Array, W: Float64Array, b: Float64Array, c: Float64Array): number {
  let f = 0;
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 5; j++) {
      let s = b[j]!;
      for (let k = 0; k < 4; k++) s += x[i * 4 + k]! * W[k * 5 + j]!;
      f += Math.tanh(s) * c[i * 5 + j]!;
    }
  }
  let sq = 0;
  let ex = 0;
  for (const v of x) {
    sq += v * v;
    ex += Math.exp(v);
  }
  return f + sq / x.length + ex / 10;
}

function deviceF(x: Tensor, W: Tensor, b: Tensor, c: Tensor): Tensor {
  const h = tanh(add(matmul(x, W), b));
  return add(add(sum(mul(h, c)), mean(square(x))), mul(sum(exp(x)), scalar(0.1)));
}

describe('grad / valueAndGrad of a composite function', () => {
  it('match float64 finite differences along random directions', () => {
    const rng = new Rng(7);
    const host = [randomArray(rng, 12), randomArray(rng, 20), randomArray(rng, 5), randomArray(rng, 15)];
    const shapes = [[3, 4], [4, 5], [5], [3, 5]];
    const inputs = host.map((h, i) => tensor(Float32Array.from(h), shapes[i]));
    const before = live();
    const { value, grads } = valueAndGrad((x: Tensor, W: Tensor, b: Tensor, c: Tensor) => deviceF(x, W, b, c))(
      ...(inputs as [Tensor, Tensor, Tensor, Tensor]),
    );
    expect(value.dataSync()[0]).toBeCloseTo(hostF(host[0]!, host[1]!, host[2]!, host[3]!), 4);
    const eps = 1e-4;
    grads.forEach((g, i) => {
      expect(g.shape).toEqual(shapes[i]);
      const u = randomArray(rng, host[i]!.length);
      const shifted = (t: number) => host.map((h, j) => (j === i ? h.map((v, e) => v + t * u[e]!) : h));
      const [p, m] = [shifted(eps), shifted(-eps)];
      const fd = (hostF(p[0]!, p[1]!, p[2]!, p[3]!) - hostF(m[0]!, m[1]!, m[2]!, m[3]!)) / (2 * eps);
      const gv = values(g);
      const analytic = gv.reduce((s, v, e) => s + v * u[e]!, 0);
      const scale = gv.reduce((s, v, e) => s + Math.abs(v * u[e]!), 0);
      expect(Math.abs(analytic - fd), `input ${i}: ${analytic} vs ${fd}`).toBeLessThanOrEqual(1e-4 * scale + 1e-6);
    });
    // grad() gives the same gradients.
    const again = grad((x: Tensor, W: Tensor, b: Tensor, c: Tensor) => deviceF(x, W, b, c))(
      ...(inputs as [Tensor, Tensor, Tensor, Tensor]),
    );
    again.forEach((g, i) => expect(values(g)).toEqual(values(grads[i]!)));
    dispose([value, grads, again]);
    expect(live()).toEqual(before);
    dispose(inputs);
  });
});

describe('autograd rules', () => {
  it('a tensor used twice accumulates its gradients', () => {
    const x = tensor([1, -2, 3]);
    const [g1] = grad((t: Tensor) => sum(mul(t, t)))(x);
    expect(values(g1!)).toEqual([2, -4, 6]);
    const [g2] = grad((t: Tensor) => sum(add(mul(t, scalar(3)), exp(sub(t, t)))))(x);
    expect(values(g2!)).toEqual([3, 3, 3]);
    // x feeding two branches that meet again.
    const [g3] = grad((t: Tensor) => {
      const a = mul(t, scalar(2));
      const b = square(t);
      return sum(add(a, b));
    })(x);
    expect(values(g3!)).toEqual([4, -2, 8]);
    dispose([x, g1, g2, g3]);
  });

  it('the gradient of an unconnected input is zeros of its shape', () => {
    const x = tensor([1, 2]);
    const y = ones([2, 3]);
    const [gx, gy] = grad((a: Tensor, _b: Tensor) => sum(square(a)))(x, y);
    expect(values(gx!)).toEqual([2, 4]);
    expect(gy!.shape).toEqual([2, 3]);
    expect(gy!.dtype).toBe('float32');
    expect(values(gy!)).toEqual([0, 0, 0, 0, 0, 0]);
    dispose([x, y, gx, gy]);
  });

  it('a non-scalar result needs dy (GradientError otherwise)', () => {
    const before = live();
    const x = tensor([1, 2, 3]);
    expect(() => gradients(() => mul(x, x), [x])).toThrow(GradientError);
    expect(() => gradients(() => mul(x, x), [x])).toThrow(/\[3\]/);
    const dy = tensor([1, 0, -1]);
    const { value, grads } = gradients(() => mul(x, x), [x], dy);
    expect(values(grads[0]!)).toEqual([2, 0, -6]);
    const wrongDy = ones([2]);
    expect(() => gradients(() => mul(x, x), [x], wrongDy)).toThrow(GradientError);
    const ints = zeros([2], 'int32');
    expect(() => gradients(() => sum(x), [ints])).toThrow(GradientError);
    dispose([x, dy, value, grads, ints, wrongDy]);
    // A rejected call leaves nothing behind (neither the tape nor f's result).
    expect(live()).toEqual(before);
  });

  it('noGrad records nothing: its results are constants for the gradient', () => {
    const x = tensor([1, 2, 3]);
    // f = Σ x · stop(2x): gradient 2x (not 4x).
    const [g] = grad((t: Tensor) =>
      sum(
        mul(
          t,
          noGrad(() => mul(t, scalar(2))),
        ),
      ),
    )(x);
    expect(values(g!)).toEqual([2, 4, 6]);
    // Entirely under noGrad: the gradient is zero.
    const [z] = grad((t: Tensor) => noGrad(() => sum(square(t))))(x);
    expect(values(z!)).toEqual([0, 0, 0]);
    dispose([x, g, z]);
  });

  it('customGrad uses the hand-written gradient (deliberately scaled by 2)', () => {
    const before = live();
    const doubledSquare = customGrad((x: Tensor) => ({
      value: square(x),
      save: [x],
      gradFunc: ([dy], [xs]) => [mul(dy!, mul(xs!, scalar(4)))], // true gradient is 2x·dy
    }));
    const x = tensor([1, -2, 0.5]);
    const { value, grads } = valueAndGrad((t: Tensor) => sum(doubledSquare(t) as Tensor))(x);
    expect(value.dataSync()[0]).toBe(1 + 4 + 0.25);
    expect(values(grads[0]!)).toEqual([4, -8, 2]);
    dispose([x, value, grads]);
    expect(live()).toEqual(before);
  });

  it('customGrad whose gradFunc recomputes with gradients() (reversible-layer style)', () => {
    const before = live();
    const body = (x: Tensor, w: Tensor) => mul(tanh(mul(x, w)), x);
    // Forward without storing activations; backward recomputes them under a local tape.
    const recomputed = customGrad((x: Tensor, w: Tensor) => ({
      value: body(x, w),
      save: [x, w],
      gradFunc: ([dy], [xs, ws]) => {
        const { value, grads } = gradients(() => body(xs!, ws!), [xs!, ws!], dy!);
        value.dispose();
        return grads;
      },
    }));
    const x = tensor([0.3, -1.2, 2]);
    const w = tensor([1.5, 0.7, -0.4]);
    const f = (a: Tensor, b: Tensor, op: (a: Tensor, b: Tensor) => Tensor) => sum(mul(op(a, b), tensor([1, 2, 3])));
    const custom = grad((a: Tensor, b: Tensor) => f(a, b, (p, q) => recomputed(p, q) as Tensor))(x, w);
    const plain = grad((a: Tensor, b: Tensor) => f(a, b, body))(x, w);
    custom.forEach((g, i) => {
      const want = values(plain[i]!);
      values(g).forEach((v, e) => expect(v).toBeCloseTo(want[e]!, 6));
    });
    dispose([x, w, custom, plain]);
    expect(live()).toEqual(before);
  });

  it('the tape is freed: live tensors return to the baseline, also with tidy inside f', () => {
    const x = tensor([1, 2, 3, 4]);
    const before = live();
    const { value, grads } = gradients(() => {
      const inner = tidy(() => exp(mul(x, x)));
      const kept = tidy(() => [square(inner), ones([4])]);
      return sum(add(kept[0]!, mul(inner, kept[1]!)));
    }, [x]);
    expect(live().tensors).toBe(before.tensors + 2);
    dispose([value, grads]);
    expect(live()).toEqual(before);
    x.dispose();
  });

  it('the tape is freed when f throws, and the error propagates', () => {
    const x = tensor([1, 2, 3]);
    const before = live();
    expect(() =>
      gradients(() => {
        const y = exp(mul(x, x));
        tidy(() => square(y));
        throw new Error('inside f');
      }, [x]),
    ).toThrow('inside f');
    expect(live()).toEqual(before);
    // Recording stopped: a later op is not taped (and a later gradients() works).
    const [g] = grad((t: Tensor) => sum(t))(x);
    expect(values(g!)).toEqual([1, 1, 1]);
    dispose([x, g]);
  });

  it('gradients wrt a tensor created inside a tidy scope that is still alive', () => {
    const x = tidy(() => tensor([2, 3]));
    const [g] = grad((t: Tensor) => sum(mul(t, t)))(x);
    expect(values(g!)).toEqual([4, 6]);
    dispose([x, g]);
  });
});
