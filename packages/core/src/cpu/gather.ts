/**
 * Batched gather along an axis and its adjoint, scatter-add.
 *
 * With `x` of shape `[...P, A, ...R]` and int32 `indices` of shape `[...P, n]`, gather copies the
 * contiguous block `x[p, indices[p, j], :]` (of `prod(R)` values) to `out[p, j, :]`. Every index is
 * checked against `[0, A)` before it is used; a bad one throws {@link InvalidArgumentError}.
 */
import { InvalidArgumentError } from '../errors.js';
import type { Shape } from '../types.js';
import { allocLike, type CpuStorage } from './storage.js';
import { copyRun, product } from './strided.js';

/** Throws unless every value of `indices` lies in `[0, size)`. */
export function checkIndices(op: string, indices: Int32Array, size: number, what = 'index'): void {
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i]!;
    if (v < 0 || v >= size) {
      throw new InvalidArgumentError(
        `${op}: ${what} ${v} (at flat position ${i}) is out of range; valid ${what === 'index' ? 'indices' : 'values'} are 0..${size - 1}.`,
      );
    }
  }
}

/** Throws unless `indices` holds `outer · n` values (shape `x.shape[0..axis) + [n]`). */
function checkIndexCount(op: string, indices: Int32Array, outer: number, n: number): void {
  if (indices.length !== outer * n) {
    throw new InvalidArgumentError(
      `${op}: indices must have shape x.shape[0..axis) + [${n}] (${outer * n} values), got ${indices.length} values.`,
    );
  }
}

/**
 * `out[..., j, ...rest] = x[..., indices[..., j], ...rest]` with `indices` of shape
 * `x.shape[0..axis) + [n]`; the output has shape `x.shape[0..axis) + [n] + x.shape(axis..]`.
 */
export function gather(x: CpuStorage, shape: Shape, indices: Int32Array, n: number, axis: number): CpuStorage {
  const outer = product(shape.slice(0, axis));
  const size = shape[axis]!;
  const inner = product(shape.slice(axis + 1));
  checkIndexCount('gather', indices, outer, n);
  checkIndices('gather', indices, size);
  const out = allocLike(x, outer * n * inner);
  if (inner === 1) {
    for (let p = 0; p < outer; p++) {
      const xBase = p * size;
      const iBase = p * n;
      for (let j = 0; j < n; j++) out[iBase + j] = x[xBase + indices[iBase + j]!]!;
    }
    return out;
  }
  for (let p = 0; p < outer; p++) {
    for (let j = 0; j < n; j++) {
      const src = (p * size + indices[p * n + j]!) * inner;
      copyRun(x, src, 1, out, (p * n + j) * inner, inner);
    }
  }
  return out;
}

/**
 * The adjoint of {@link gather}: output of shape `updates.shape` with axis `axis` replaced by `size`,
 * zero except `out[..., indices[..., j], ...rest] += updates[..., j, ...rest]`. Float sums are
 * accumulated in doubles and rounded once.
 */
export function scatterAdd(updates: CpuStorage, shape: Shape, indices: Int32Array, axis: number, size: number): CpuStorage {
  const outer = product(shape.slice(0, axis));
  const n = shape[axis]!;
  const inner = product(shape.slice(axis + 1));
  checkIndexCount('scatterAdd', indices, outer, n);
  checkIndices('scatterAdd', indices, size);
  const outSize = outer * size * inner;
  if (updates instanceof Int32Array) {
    const out = new Int32Array(outSize);
    scatterInto(updates, indices, out, outer, n, size, inner);
    return out;
  }
  const acc = new Float64Array(outSize);
  scatterInto(updates, indices, acc, outer, n, size, inner);
  return Float32Array.from(acc);
}

function scatterInto(
  updates: CpuStorage,
  indices: Int32Array,
  acc: Float64Array | Int32Array,
  outer: number,
  n: number,
  size: number,
  inner: number,
): void {
  for (let p = 0; p < outer; p++) {
    for (let j = 0; j < n; j++) {
      const dst = (p * size + indices[p * n + j]!) * inner;
      const src = (p * n + j) * inner;
      for (let r = 0; r < inner; r++) acc[dst + r] = acc[dst + r]! + updates[src + r]!;
    }
  }
}
