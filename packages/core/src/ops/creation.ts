import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import { getBackend, runOp1 } from '../engine.js';
import { normalValues, uniformValues, nextSeed } from '../random.js';
import type { Tensor } from '../tensor.js';
import { allocArray, formatShape, sizeOf, type DType, type Shape, type TypedArray } from '../types.js';
import { checkDType, checkShape } from './util.js';

/** Nested arrays of numbers, as accepted by {@link tensor}. */
export type NestedNumbers = number | readonly NestedNumbers[];

function inferShape(values: NestedNumbers): number[] {
  const shape: number[] = [];
  let v: NestedNumbers = values;
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = (v as readonly NestedNumbers[])[0] ?? 0;
  }
  return shape;
}

function flatten(values: NestedNumbers, shape: Shape, out: TypedArray, offset: number, depth: number): number {
  if (depth === shape.length) {
    if (typeof values !== 'number')
      throw new ShapeMismatchError(`tensor(): ragged nested array; every row at depth ${depth} must be a number.`);
    out[offset] = values;
    return offset + 1;
  }
  if (!Array.isArray(values) || values.length !== shape[depth]) {
    throw new ShapeMismatchError(`tensor(): ragged nested array; every list at depth ${depth} must have length ${shape[depth]}.`);
  }
  for (const v of values as readonly NestedNumbers[]) offset = flatten(v, shape, out, offset, depth + 1);
  return offset;
}

/** Uploads host values as a new tensor on the current backend. @internal */
export function fromHost(values: TypedArray, shape: Shape, dtype: DType): Tensor {
  return runOp1({
    name: 'tensor',
    inputs: [],
    kernel: (backend) => ({ storage: backend.write(values, dtype), shape, dtype }),
  });
}

/**
 * Creates a tensor from numbers: a typed array or flat list with a `shape`, or nested arrays (shape
 * inferred). The dtype defaults to int32 for an Int32Array and float32 otherwise.
 */
export function tensor(values: TypedArray | NestedNumbers, shape?: Shape, dtype?: DType): Tensor {
  if (dtype !== undefined) checkDType('tensor', dtype);
  const dt: DType = dtype ?? (values instanceof Int32Array ? 'int32' : 'float32');
  let flat: TypedArray;
  let shp: Shape;
  if (values instanceof Float32Array || values instanceof Int32Array) {
    shp = shape ?? [values.length];
    const sameType = dt === 'int32' ? values instanceof Int32Array : values instanceof Float32Array;
    flat = sameType ? values : allocArray(dt, values.length);
    if (flat !== values) flat.set(dt === 'int32' ? Int32Array.from(values, Math.trunc) : values);
  } else {
    const inferred = inferShape(values);
    const tmp = allocArray(dt, sizeOf(inferred));
    flatten(values, inferred, tmp, 0, 0);
    flat = tmp;
    shp = shape ?? inferred;
  }
  checkShape('tensor', shp);
  if (sizeOf(shp) !== flat.length) {
    throw new ShapeMismatchError(`tensor(): ${flat.length} values cannot fill shape ${formatShape(shp)} (${sizeOf(shp)} elements).`);
  }
  return fromHost(flat === values ? flat.slice() : flat, shp, dt);
}

/** A 0-d tensor. */
export function scalar(value: number, dtype: DType = 'float32'): Tensor {
  checkDType('scalar', dtype);
  return fill([], value, dtype);
}

/** A tensor of `shape` filled with `value`. */
export function fill(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
  checkShape('fill', shape);
  checkDType('fill', dtype);
  return runOp1({ name: 'fill', inputs: [], kernel: (backend) => backend.fill(shape, value, dtype) });
}

/** A tensor of zeros. */
export function zeros(shape: Shape, dtype: DType = 'float32'): Tensor {
  checkDType('zeros', dtype);
  return fill(shape, 0, dtype);
}

/** A tensor of ones. */
export function ones(shape: Shape, dtype: DType = 'float32'): Tensor {
  checkDType('ones', dtype);
  return fill(shape, 1, dtype);
}

/** Zeros with the shape and dtype of `x`, on `x`'s backend. */
export function zerosLike(x: Tensor): Tensor {
  return runOp1({ name: 'zerosLike', inputs: [x], kernel: (b, [k]) => b.fill(k!.shape, 0, k!.dtype) });
}

/** Ones with the shape and dtype of `x`, on `x`'s backend. */
export function onesLike(x: Tensor): Tensor {
  return runOp1({ name: 'onesLike', inputs: [x], kernel: (b, [k]) => b.fill(k!.shape, 1, k!.dtype) });
}

/** `[start, start + step, ...)` up to `stop` (exclusive); `arange(n)` is `0..n-1`. int32 by default. */
export function arange(start: number, stop?: number, step = 1, dtype: DType = 'int32'): Tensor {
  if (stop === undefined) {
    stop = start;
    start = 0;
  }
  checkDType('arange', dtype);
  if (step === 0 || !Number.isFinite(step)) throw new InvalidArgumentError(`arange(): step must be a non-zero finite number, got ${step}.`);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const values = allocArray(dtype, n);
  for (let i = 0; i < n; i++) values[i] = start + i * step;
  return fromHost(values, [n], dtype);
}

/** Options of the seeded random creation functions. */
export interface RandomOptions {
  /** Non-negative integer seed. Omitted: the next seed of the current `seedScope` (or global stream). */
  seed?: number;
}

/** Normally distributed float32 values (Philox + Box–Muller); the same seed gives the same values on every backend. */
export function randomNormal(shape: Shape, options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  checkShape('randomNormal', shape);
  const { seed = nextSeed(), mean = 0, std = 1 } = options;
  const values = normalValues(seed, sizeOf(shape));
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = mean + std * values[i]!;
  return fromHost(out, shape, 'float32');
}

/** Uniform float32 values in [min, max) (Philox); the same seed gives the same values on every backend. */
export function randomUniform(shape: Shape, options: RandomOptions & { min?: number; max?: number } = {}): Tensor {
  checkShape('randomUniform', shape);
  const { seed = nextSeed(), min = 0, max = 1 } = options;
  const values = uniformValues(seed, sizeOf(shape));
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = min + (max - min) * values[i]!;
  return fromHost(out, shape, 'float32');
}
