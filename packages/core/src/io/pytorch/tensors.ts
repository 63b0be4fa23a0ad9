/**
 * Turns a tensor described by a PyTorch pickle (a strided view of a storage) into a contiguous host
 * tensor: views are copied out element by element, floats become float32 and integers int32.
 *
 * @module
 */

import { CheckpointFormatError } from '../../errors.js';
import { bfloat16BitsToFloat32Bits, float16BitsToFloat32Bits } from '../half.js';
import type { HostTensor } from '../safetensors.js';
import { STORAGE_ITEMSIZE, type StorageDType, type TensorRef } from './torch-globals.js';

/** The largest tensor read, in elements (2^30: 4 GiB of float32). */
export const MAX_TENSOR_ELEMENTS = 2 ** 30;

/** The most times a view (an expanded tensor) may repeat its storage's elements, beyond 2^24 elements. */
const MAX_REPEAT = 64;

const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fail(name: string, message: string): never {
  throw new CheckpointFormatError(`pytorch checkpoint: tensor ${JSON.stringify(name)}: ${message}`);
}

/** True when `stride` is the row-major stride of `shape` (axes of length 1 may have any stride). */
function isContiguous(shape: number[], stride: number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i]!;
  }
  return true;
}

/** Copies the elements of a strided view, in row-major order, into contiguous bytes. */
function gather(src: Uint8Array, itemsize: number, offset: number, shape: number[], stride: number[], numel: number): Uint8Array {
  const out = new Uint8Array(numel * itemsize);
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  let at = offset;
  for (let e = 0; e < numel; e++) {
    const from = at * itemsize;
    for (let b = 0; b < itemsize; b++) out[e * itemsize + b] = src[from + b]!;
    for (let axis = rank - 1; axis >= 0; axis--) {
      index[axis]!++;
      at += stride[axis]!;
      if (index[axis]! < shape[axis]!) break;
      at -= stride[axis]! * shape[axis]!;
      index[axis] = 0;
    }
  }
  return out;
}

function int32Range(name: string, i: number, v: bigint | number): never {
  fail(
    name,
    `element ${i} is ${v}, which does not fit in int32 (-2147483648..2147483647); this library stores integer ` +
      'tensors as int32. Re-save the tensor with values in range, or as a float dtype.',
  );
}

/** Decodes `numel` contiguous elements of `dtype` (byte order `little`) to float32 or int32. */
function decode(name: string, dtype: StorageDType, bytes: Uint8Array, numel: number, little: boolean): Float32Array | Int32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(numel);
      if (little && IS_LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes.subarray(0, numel * 4));
      else {
        const bits = new Uint32Array(out.buffer);
        for (let i = 0; i < numel; i++) bits[i] = dv.getUint32(i * 4, little);
      }
      return out;
    }
    case 'F16':
    case 'BF16': {
      const out = new Float32Array(numel);
      const bits = new Uint32Array(out.buffer);
      const convert = dtype === 'F16' ? float16BitsToFloat32Bits : bfloat16BitsToFloat32Bits;
      for (let i = 0; i < numel; i++) bits[i] = convert(dv.getUint16(i * 2, little));
      return out;
    }
    case 'F64': {
      const out = new Float32Array(numel);
      for (let i = 0; i < numel; i++) out[i] = dv.getFloat64(i * 8, little);
      return out;
    }
    case 'I64': {
      const out = new Int32Array(numel);
      for (let i = 0; i < numel; i++) {
        const lo = dv.getUint32(i * 8 + (little ? 0 : 4), little);
        const hi = dv.getInt32(i * 8 + (little ? 4 : 0), little);
        if (hi !== (lo >= 0x80000000 ? -1 : 0)) int32Range(name, i, dv.getBigInt64(i * 8, little));
        out[i] = lo | 0;
      }
      return out;
    }
    case 'I32': {
      const out = new Int32Array(numel);
      for (let i = 0; i < numel; i++) out[i] = dv.getInt32(i * 4, little);
      return out;
    }
    case 'I16': {
      const out = new Int32Array(numel);
      for (let i = 0; i < numel; i++) out[i] = dv.getInt16(i * 2, little);
      return out;
    }
    case 'I8': {
      const out = new Int32Array(numel);
      for (let i = 0; i < numel; i++) out[i] = dv.getInt8(i);
      return out;
    }
    case 'U8': {
      const out = new Int32Array(numel);
      out.set(bytes.subarray(0, numel));
      return out;
    }
    case 'BOOL': {
      const out = new Int32Array(numel);
      for (let i = 0; i < numel; i++) out[i] = bytes[i] !== 0 ? 1 : 0;
      return out;
    }
  }
}

/**
 * Reads a tensor out of its storage: honours the storage offset and strides (views are copied),
 * converts float16/bfloat16/float64 to float32 and integer/bool types to int32.
 *
 * @param name - the tensor's name, for errors.
 * @param t - the tensor as rebuilt from the pickle; its storage's bytes must be loaded.
 * @param little - whether the storages are little-endian (PyTorch's `byteorder` record).
 * @throws {CheckpointFormatError} if the view reaches outside its storage, the tensor is larger than
 *   {@link MAX_TENSOR_ELEMENTS}, or an integer does not fit in int32.
 */
export function materializeTensor(name: string, t: TensorRef, little: boolean): HostTensor {
  const bytes = t.storage.bytes;
  if (bytes === undefined)
    fail(name, `its storage ${JSON.stringify(t.storage.key)} is missing from the file; the file is truncated or corrupt.`);
  const itemsize = STORAGE_ITEMSIZE[t.dtype];
  const capacity = Math.floor(bytes.byteLength / itemsize);
  let numel = 1;
  for (const d of t.shape) numel *= d;
  if (numel > MAX_TENSOR_ELEMENTS) {
    fail(
      name,
      `shape [${t.shape.join(', ')}] has ${numel} elements, more than the ${MAX_TENSOR_ELEMENTS} this reader accepts; the file is corrupt.`,
    );
  }
  // A view may repeat its storage (stride 0, an expand): bounded, so that a tiny file cannot ask for gigabytes.
  if (numel > MAX_REPEAT * Math.max(capacity, 1) && numel > 2 ** 24) {
    fail(
      name,
      `shape [${t.shape.join(', ')}] has ${numel} elements over a storage of ${capacity}: more than ${MAX_REPEAT} repeats of it; ` +
        'the file is corrupt or hostile. Save the tensor contiguously (tensor.contiguous()) if it is real.',
    );
  }
  if (numel > 0) {
    let last = t.offset;
    for (let i = 0; i < t.shape.length; i++) last += (t.shape[i]! - 1) * t.stride[i]!;
    if (last >= capacity) {
      fail(
        name,
        `shape [${t.shape.join(', ')}], stride [${t.stride.join(', ')}] and offset ${t.offset} reach element ${last} of a ` +
          `storage of ${capacity} elements; the file is corrupt.`,
      );
    }
  }
  const dtype = t.dtype === 'F32' || t.dtype === 'F16' || t.dtype === 'BF16' || t.dtype === 'F64' ? 'float32' : 'int32';
  const contiguous = isContiguous(t.shape, t.stride)
    ? bytes.subarray(t.offset * itemsize, (t.offset + numel) * itemsize)
    : gather(bytes, itemsize, t.offset, t.shape, t.stride, numel);
  return { dtype, shape: t.shape.slice(), values: decode(name, t.dtype, contiguous, numel, little) };
}
