import { formatValue } from '../format.js';
import { AxisError, BroadcastError, DTypeError, InvalidArgumentError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { DTYPES, isDType, type DType, type Shape } from '../types.js';
import { isShape } from '../validate.js';

/** Maps a possibly negative axis into [0, rank), or throws `AxisError`. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) throw new AxisError(op, axis, rank);
  return axis < 0 ? axis + rank : axis;
}

/** Normalises, sorts and de-duplicates a list of axes (all axes when undefined). */
export function normalizeAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const out = [...new Set(list.map((a) => normalizeAxis(op, a, rank)))].sort((a, b) => a - b);
  return out;
}

/** The NumPy broadcast of two shapes, or `BroadcastError`. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new BroadcastError(op, a, b);
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Throws `DTypeError` unless every tensor has dtype `dtype`. */
export function requireDType(op: string, dtype: 'float32' | 'int32', ...tensors: Tensor[]): void {
  for (const t of tensors) {
    if (t.dtype !== dtype) {
      throw new DTypeError(`${op}: expected a ${dtype} tensor, got ${t.dtype} ${formatValue(t.shape)}. Use cast(x, '${dtype}').`);
    }
  }
}

/**
 * Throws `DTypeError` unless `dtype` is one of the {@link DTYPES}: the check of every op that takes a
 * dtype argument (`tensor`, `fill`, `zeros`, `cast`, ...), so a typo or an unsupported type such as
 * `'float64'` never labels float32 storage with another name.
 */
export function checkDType(op: string, dtype: unknown): asserts dtype is DType {
  if (!isDType(dtype)) {
    throw new DTypeError(`${op}: unknown dtype ${formatValue(dtype)}; the dtypes are ${DTYPES.map((d) => `'${d}'`).join(' and ')}.`);
  }
}

/** Throws `DTypeError` unless both tensors share a dtype. */
export function requireSameDType(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype) {
    throw new DTypeError(`${op}: inputs have different dtypes (${a.dtype} and ${b.dtype}); cast one with cast(x, dtype).`);
  }
}

/** Checks that a shape is a list of non-negative integers. */
export function checkShape(op: string, shape: Shape): void {
  if (!isShape(shape)) {
    throw new InvalidArgumentError(`${op}: a shape must be a list of non-negative integers, got ${formatValue(shape)}.`);
  }
}

/** The axes of `full` that were broadcast from `small` (missing or size 1 where full is not). */
export function broadcastAxes(small: Shape, full: Shape): number[] {
  const axes: number[] = [];
  const offset = full.length - small.length;
  for (let i = 0; i < full.length; i++) {
    const d = i < offset ? 1 : small[i - offset]!;
    if (d === 1 && (full[i] !== 1 || i < offset)) axes.push(i);
  }
  return axes;
}
