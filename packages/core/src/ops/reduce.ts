import type { ReduceOp } from '../backend.js';
import { logSumExpKernel, signedArgMaxKernel, softmaxKernel } from '../composite/index.js';
import { noGrad, runOp1, tidy } from '../engine.js';
import type { Tensor } from '../tensor.js';
import type { Shape } from '../types.js';
import { scalar } from './creation.js';
import { cast, div, equal, exp, mul, sub } from './elementwise.js';
import { broadcastTo, reshape, transpose } from './layout.js';
import { broadcastAxes, normalizeAxes, normalizeAxis, requireDType } from './util.js';

/** The shape of a reduction with `keepDims`: reduced axes become 1. */
function keptShape(shape: Shape, axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function reduceOp(op: ReduceOp, x: Tensor, axis: number | readonly number[] | undefined, keepDims: boolean): Tensor {
  const axes = normalizeAxes(op, axis, x.rank);
  const xShape = x.shape;
  const kept = keptShape(xShape, axes);
  const y = runOp1({
    name: op,
    inputs: [x],
    kernel: (b, [k]) => b.reduce(op, k!, axes),
    backward: ([dy], [xs, ys]) => {
      const g = broadcastTo(reshape(dy!, kept), xShape);
      if (op === 'sum') return [g];
      // max/min: the gradient flows to every element equal to the extremum.
      const hit = cast(equal(xs!, broadcastTo(reshape(ys!, kept), xShape)), 'float32');
      return [mul(g, hit)];
    },
    save: (inputs, outputs) => (op === 'sum' ? [] : [inputs[0]!, outputs[0]!]),
  });
  if (!keepDims) return y;
  const out = reshape(y, kept);
  y.dispose();
  return out;
}

/** Sum over `axis` (all axes when omitted). */
export function sum(x: Tensor, axis?: number | readonly number[], keepDims = false): Tensor {
  return reduceOp('sum', x, axis, keepDims);
}

/** Maximum over `axis` (all axes when omitted). */
export function max(x: Tensor, axis?: number | readonly number[], keepDims = false): Tensor {
  return reduceOp('max', x, axis, keepDims);
}

/** Minimum over `axis` (all axes when omitted). */
export function min(x: Tensor, axis?: number | readonly number[], keepDims = false): Tensor {
  return reduceOp('min', x, axis, keepDims);
}

/** Mean over `axis` (all axes when omitted). */
export function mean(x: Tensor, axis?: number | readonly number[], keepDims = false): Tensor {
  requireDType('mean', 'float32', x);
  const axes = normalizeAxes('mean', axis, x.rank);
  const count = axes.reduce((n, a) => n * x.shape[a]!, 1);
  const s = sum(x, axes, keepDims);
  const n = scalar(count);
  const out = div(s, n);
  s.dispose();
  n.dispose();
  return out;
}

/** Index of the first maximum along `axis` (int32, axis removed). */
export function argMax(x: Tensor, axis = -1): Tensor {
  const ax = normalizeAxis('argMax', axis, x.rank);
  return runOp1({ name: 'argMax', inputs: [x], kernel: (b, [k]) => b.argMax(k!, ax) });
}

/**
 * The first maximum of `[x, −x]` along the last axis (removed), int32: `i` where `x[i]` wins, `n + i`
 * where `−x[i]` wins (n = the last axis' length; ties go to the earlier entry, NaN never wins, as
 * {@link argMax}). The bucket of angular LSH (`argmax([xR; −xR])`), computed without making `[x, −x]`
 * on backends with a fused kernel. float32 only.
 */
export function signedArgMax(x: Tensor): Tensor {
  requireDType('signedArgMax', 'float32', x);
  normalizeAxis('signedArgMax', -1, x.rank); // a last axis to reduce
  return runOp1({ name: 'signedArgMax', inputs: [x], kernel: (b, [k]) => signedArgMaxKernel(b, k!) });
}

/** Moves `axis` to the end, applies `fn` (a last-axis op), and moves it back. */
function alongLastAxis(x: Tensor, axis: number, removes: boolean, fn: (t: Tensor) => Tensor): Tensor {
  const ax = normalizeAxis('axis', axis, x.rank);
  if (ax === x.rank - 1) return fn(x);
  const perm = [...Array(x.rank).keys()].filter((i) => i !== ax).concat(ax);
  const moved = transpose(x, perm);
  const y = fn(moved);
  moved.dispose();
  if (removes) return y;
  const inverse = perm.map((_, i) => perm.indexOf(i));
  const back = transpose(y, inverse);
  y.dispose();
  return back;
}

/** Stable ascending argsort along `axis` (int32 indices, same shape). Not differentiable. */
export function argSort(x: Tensor, axis = -1): Tensor {
  return alongLastAxis(x, axis, false, (t) => runOp1({ name: 'argSort', inputs: [t], kernel: (b, [k]) => b.argSort(k!) }));
}

/** Softmax along `axis` (fused kernel). */
export function softmax(x: Tensor, axis = -1): Tensor {
  requireDType('softmax', 'float32', x);
  return alongLastAxis(x, axis, false, (t) =>
    runOp1({
      name: 'softmax',
      inputs: [t],
      kernel: (b, [k]) => softmaxKernel(b, k!),
      backward: ([dy], [y]) => [mul(y!, sub(dy!, sum(mul(dy!, y!), -1, true)))],
      save: (_inputs, outputs) => [outputs[0]!],
    }),
  );
}

/** `log Σ exp(x)` along `axis`, max-shifted (fused kernel). */
export function logSumExp(x: Tensor, axis = -1, keepDims = false): Tensor {
  requireDType('logSumExp', 'float32', x);
  const y = alongLastAxis(x, axis, true, (t) => {
    const kept = [...t.shape.slice(0, -1), 1];
    return runOp1({
      name: 'logSumExp',
      inputs: [t],
      kernel: (b, [k]) => logSumExpKernel(b, k!),
      backward: ([dy], [ts, ys]) => [mul(reshape(dy!, kept), exp(sub(ts!, reshape(ys!, kept))))],
      save: (inputs, outputs) => [inputs[0]!, outputs[0]!],
    });
  });
  if (!keepDims) return y;
  const out = reshape(y, keptShape(x.shape, [normalizeAxis('logSumExp', axis, x.rank)]));
  y.dispose();
  return out;
}

/**
 * `x − logSumExp(x)` along `axis`, computed as `(x − m) − logSumExp(x − m)` with `m` the (constant)
 * row maximum, so the result is accurate relative to itself even for rows of large values.
 */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return tidy(() => {
    const m = noGrad(() => max(x, axis, true));
    const shifted = sub(x, m);
    return sub(shifted, logSumExp(shifted, axis, true));
  });
}

/** Sums `g` over the axes that broadcasting added or stretched, giving a tensor of `shape`. @internal */
export function unbroadcast(g: Tensor, shape: Shape): Tensor {
  const axes = broadcastAxes(shape, g.shape);
  if (axes.length === 0 && g.rank === shape.length) return g;
  const s = sum(g, axes);
  const out = reshape(s, shape);
  s.dispose();
  return out;
}
