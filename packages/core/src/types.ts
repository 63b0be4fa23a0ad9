/** Element type of a tensor. Every backend supports exactly these two. */
export type DType = 'float32' | 'int32';

/** Every {@link DType}, in the order error messages list them. */
export const DTYPES: readonly DType[] = ['float32', 'int32'];

/** Whether `v` is one of the {@link DTYPES} (a check for values that come from untyped callers). */
export function isDType(v: unknown): v is DType {
  return v === 'float32' || v === 'int32';
}

/** A tensor shape: one non-negative integer per axis. `[]` is a scalar. */
export type Shape = readonly number[];

/** The typed array that holds a tensor's elements on the host. */
export type TypedArray = Float32Array | Int32Array;

/** The typed array type that matches a dtype. */
export type ArrayFor<D extends DType> = D extends 'int32' ? Int32Array : Float32Array;

/** Number of elements of a shape (1 for a scalar). */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Bytes per element of a dtype. */
export function bytesPerElement(_dtype: DType): number {
  return 4;
}

/** Allocates a zero-filled host array of the given dtype. */
export function allocArray(dtype: DType, size: number): TypedArray {
  return dtype === 'int32' ? new Int32Array(size) : new Float32Array(size);
}

/** Row-major strides of a shape. */
export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** Formats a shape as `[2, 3, 4]` for error messages. */
export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}
