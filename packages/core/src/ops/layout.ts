import { formatValue } from '../format.js';
import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import { runOp1 } from '../engine.js';
import type { Tensor } from '../tensor.js';
import { formatShape, sizeOf, type Shape } from '../types.js';
import { checkInteger } from '../validate.js';
import { unbroadcast } from './reduce.js';
import { broadcastShapes, checkShape, normalizeAxis, requireDType, requireSameDType } from './util.js';

/**
 * The same elements with a new shape (a free view: no copy). One axis may be −1 (inferred).
 */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const inferred = shape.indexOf(-1);
  let target = [...shape];
  if (inferred >= 0) {
    const known = sizeOf(shape.filter((_, i) => i !== inferred));
    if (known === 0 || x.size % known !== 0) {
      throw new ShapeMismatchError(
        `reshape: cannot infer the −1 axis of ${formatShape(shape)} for ${x.size} elements (shape ${formatShape(x.shape)}).`,
      );
    }
    target[inferred] = x.size / known;
  }
  checkShape('reshape', target);
  if (sizeOf(target) !== x.size) {
    throw new ShapeMismatchError(
      `reshape: shape ${formatShape(x.shape)} (${x.size} elements) cannot be viewed as ${formatShape(shape)} (${sizeOf(target)} elements).`,
    );
  }
  const from = x.shape;
  target = Object.freeze(target) as number[];
  return runOp1({
    name: 'reshape',
    inputs: [x],
    kernel: (_b, [k]) => ({ storage: k!.storage, shape: target, dtype: k!.dtype }),
    backward: ([dy]) => [reshape(dy!, from)],
  });
}

/** A new tensor handle on the same storage (free). */
export function clone(x: Tensor): Tensor {
  return reshape(x, x.shape);
}

/** Inserts a size-1 axis at `axis`. */
export function expandDims(x: Tensor, axis = 0): Tensor {
  const ax = normalizeAxis('expandDims', axis, x.rank + 1);
  return reshape(x, [...x.shape.slice(0, ax), 1, ...x.shape.slice(ax)]);
}

/** Removes size-1 axes (the listed ones, or all). */
export function squeeze(x: Tensor, axes?: readonly number[]): Tensor {
  const drop = axes ? axes.map((a) => normalizeAxis('squeeze', a, x.rank)) : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  for (const a of drop) {
    if (x.shape[a] !== 1)
      throw new InvalidArgumentError(`squeeze: axis ${a} of shape ${formatShape(x.shape)} has size ${x.shape[a]}, not 1.`);
  }
  return reshape(
    x,
    x.shape.filter((_, i) => !drop.includes(i)),
  );
}

/** Permutes axes: output axis i is input axis `perm[i]` (default: reversed). */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = perm ? perm.map((a) => normalizeAxis('transpose', a, x.rank)) : [...Array(x.rank).keys()].reverse();
  if (p.length !== x.rank || new Set(p).size !== x.rank) {
    throw new InvalidArgumentError(
      `transpose: perm ${formatValue(perm)} is not a permutation of the ${x.rank} axes of ${formatShape(x.shape)}.`,
    );
  }
  if (p.every((a, i) => a === i)) return clone(x);
  const inverse = p.map((_, i) => p.indexOf(i));
  return runOp1({
    name: 'transpose',
    inputs: [x],
    kernel: (b, [k]) => b.transpose(k!, p),
    backward: ([dy]) => [transpose(dy!, inverse)],
  });
}

/** The box starting at `begin` with `size` (−1: to the end) on every axis. */
export function slice(x: Tensor, begin: readonly number[], size?: readonly number[]): Tensor {
  if (begin.length !== x.rank || (size && size.length !== x.rank)) {
    throw new InvalidArgumentError(
      `slice: begin ${formatValue(begin)} and size ${formatValue(size)} need one entry per axis of ${formatShape(x.shape)}.`,
    );
  }
  const sz = x.shape.map((d, i) => {
    const s = size?.[i] ?? -1;
    return s === -1 ? d - begin[i]! : s;
  });
  x.shape.forEach((d, i) => {
    const b = begin[i]!;
    if (!Number.isInteger(b) || !Number.isInteger(sz[i]) || b < 0 || sz[i]! < 0 || b + sz[i]! > d) {
      throw new InvalidArgumentError(
        `slice: begin ${formatValue(begin)} size ${formatValue(sz)} is out of bounds for shape ${formatShape(x.shape)} (axis ${i}).`,
      );
    }
  });
  if (sz.every((s, i) => s === x.shape[i])) return clone(x);
  const shape = x.shape;
  return runOp1({
    name: 'slice',
    inputs: [x],
    kernel: (b, [k]) => b.slice(k!, begin, sz),
    backward: ([dy]) => [
      pad(
        dy!,
        shape.map((d, i) => [begin[i]!, d - begin[i]! - sz[i]!] as [number, number]),
      ),
    ],
  });
}

/** Joins tensors along `axis`. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  const first = xs[0];
  if (!first) throw new InvalidArgumentError('concat: needs at least one tensor.');
  const ax = normalizeAxis('concat', axis, first.rank);
  for (const t of xs) {
    requireSameDType('concat', first, t);
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
      throw new ShapeMismatchError(`concat: shapes ${xs.map((u) => formatShape(u.shape)).join(', ')} must agree on every axis but ${ax}.`);
    }
  }
  if (xs.length === 1) return clone(first);
  const sizes = xs.map((t) => t.shape[ax]!);
  return runOp1({
    name: 'concat',
    inputs: xs,
    kernel: (b, ks) => b.concat(ks, ax),
    backward: ([dy]) => split(dy!, sizes, ax),
  });
}

/** Stacks same-shaped tensors along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  const expanded = xs.map((t) => expandDims(t, axis));
  const out = concat(expanded, axis);
  for (const t of expanded) t.dispose();
  return out;
}

/** Splits along `axis` into pieces of the given sizes, or into `n` equal pieces. */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  const ax = normalizeAxis('split', axis, x.rank);
  const len = x.shape[ax]!;
  let list: number[];
  if (typeof sizes === 'number') {
    if (!Number.isInteger(sizes) || sizes < 1 || len % sizes !== 0) {
      throw new InvalidArgumentError(
        `split: axis ${ax} of ${formatShape(x.shape)} (size ${len}) cannot be split into ${sizes} equal pieces.`,
      );
    }
    list = new Array<number>(sizes).fill(len / sizes);
  } else {
    list = [...sizes];
  }
  if (list.reduce((a, b) => a + b, 0) !== len) {
    throw new InvalidArgumentError(`split: sizes ${formatValue(list)} do not add up to ${len}, axis ${ax} of ${formatShape(x.shape)}.`);
  }
  let offset = 0;
  return list.map((n) => {
    const begin = x.shape.map((_, i) => (i === ax ? offset : 0));
    const size = x.shape.map((d, i) => (i === ax ? n : d));
    offset += n;
    return slice(x, begin, size);
  });
}

/** Pads each axis with `[before, after]` copies of `value`. */
export function pad(x: Tensor, paddings: readonly (readonly [number, number])[], value = 0): Tensor {
  if (paddings.length !== x.rank || paddings.some(([a, b]) => !Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b < 0)) {
    throw new InvalidArgumentError(
      `pad: need one [before, after] pair of non-negative integers per axis of ${formatShape(x.shape)}, got ${formatValue(paddings)}.`,
    );
  }
  if (paddings.every(([a, b]) => a === 0 && b === 0)) return clone(x);
  const shape = x.shape;
  return runOp1({
    name: 'pad',
    inputs: [x],
    kernel: (b, [k]) => b.pad(k!, paddings, value),
    backward: ([dy]) => [
      slice(
        dy!,
        paddings.map(([before]) => before),
        shape,
      ),
    ],
  });
}

/** Broadcasts `x` to `shape` (NumPy rules). */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  const out = broadcastShapes('broadcastTo', x.shape, shape);
  if (out.length !== shape.length || out.some((d, i) => d !== shape[i])) {
    throw new ShapeMismatchError(`broadcastTo: ${formatShape(x.shape)} cannot be broadcast to ${formatShape(shape)}.`);
  }
  if (x.rank === shape.length && x.shape.every((d, i) => d === shape[i])) return clone(x);
  const from = x.shape;
  return runOp1({
    name: 'broadcastTo',
    inputs: [x],
    kernel: (b, [k]) => {
      const zero = b.fill([], 0, k!.dtype);
      const y = b.binary('add', k!, zero, shape);
      b.free(zero.storage);
      return y;
    },
    backward: ([dy]) => [unbroadcast(dy!, from)],
  });
}

function checkIndices(op: string, x: Shape, indices: Tensor, axis: number): void {
  requireDType(op, 'int32', indices);
  const lead = x.slice(0, axis);
  if (indices.rank !== axis + 1 || lead.some((d, i) => indices.shape[i] !== d)) {
    throw new ShapeMismatchError(
      `${op}: indices ${formatShape(indices.shape)} must have shape [${[...lead, 'n'].join(', ')}] for axis ${axis} of ${formatShape(x)}.`,
    );
  }
}

/**
 * Batched gather along `axis`: `indices` (int32) has shape `x.shape[0..axis) + [n]`, and
 * `out[..., j, ...] = x[..., indices[..., j], ...]`. With `axis = 0` this is a row lookup (embeddings).
 * Indices of any shape are accepted for `axis = 0`: the output is `indices.shape + x.shape[1..]`.
 */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  const ax = normalizeAxis('gather', axis, x.rank);
  if (ax === 0 && indices.rank !== 1) {
    const flat = reshape(indices, [indices.size]);
    const rows = gather(x, flat, 0);
    const out = reshape(rows, [...indices.shape, ...x.shape.slice(1)]);
    flat.dispose();
    rows.dispose();
    return out;
  }
  checkIndices('gather', x.shape, indices, ax);
  const size = x.shape[ax]!;
  return runOp1({
    name: 'gather',
    inputs: [x, indices],
    kernel: (b, [xk, ik]) => b.gather(xk!, ik!, ax),
    backward: ([dy], [idx]) => [scatterAdd(dy!, idx!, ax, size), null],
    save: (inputs) => [inputs[1]!],
  });
}

/**
 * The adjoint of {@link gather}: a tensor with axis `axis` of size `size`, zero except
 * `out[..., indices[..., j], ...] += updates[..., j, ...]`.
 */
export function scatterAdd(updates: Tensor, indices: Tensor, axis: number, size: number): Tensor {
  const ax = normalizeAxis('scatterAdd', axis, updates.rank);
  checkIndices('scatterAdd', updates.shape, indices, ax);
  if (indices.shape[ax] !== updates.shape[ax]) {
    throw new ShapeMismatchError(
      `scatterAdd: indices ${formatShape(indices.shape)} and updates ${formatShape(updates.shape)} disagree on axis ${ax}.`,
    );
  }
  checkInteger('scatterAdd', 'size', size, 0);
  return runOp1({
    name: 'scatterAdd',
    inputs: [updates, indices],
    kernel: (b, [uk, ik]) => b.scatterAdd(uk!, ik!, ax, size),
    backward: ([dy], [idx]) => [gather(dy!, idx!, ax), null],
    save: (inputs) => [inputs[1]!],
  });
}
