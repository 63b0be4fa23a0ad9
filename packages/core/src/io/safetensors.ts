/**
 * Reading and writing the safetensors format (https://github.com/huggingface/safetensors) in memory.
 *
 * Browser-safe: no Node imports. File access lives in `@reformer/core/node`.
 *
 * Layout: an 8-byte little-endian unsigned header length N, then N bytes of UTF-8 JSON
 * `{"__metadata__": {...}, "<name>": {"dtype": "F32", "shape": [...], "data_offsets": [start, end]}, ...}`,
 * then the data section; `data_offsets` are byte offsets into the data section. All numbers are
 * little-endian.
 *
 * @module
 */

import { SafetensorsError } from '../errors.js';
import { formatValue } from '../format.js';
import { isInteger, isShape } from '../validate.js';
import type { DType, TypedArray } from '../types.js';
import { bfloat16BitsToFloat32Bits, float16BitsToFloat32Bits } from './half.js';
import { parseHeaderJson } from './header-json.js';

/** A tensor held in host memory: dtype, row-major shape and a contiguous typed array of values. */
export interface HostTensor {
  /** Element type: `'float32'` (values is a `Float32Array`) or `'int32'` (values is an `Int32Array`). */
  dtype: DType;
  /** One non-negative integer per axis; `[]` is a scalar (one element). */
  shape: number[];
  /** The elements in row-major order; its length is the product of `shape`. */
  values: Float32Array | Int32Array;
}

/** The contents of a safetensors file: its tensors, by name, and its `__metadata__` string map. */
export interface SafetensorsFile {
  /** Every tensor of the file, keyed by name, in the order of the header. */
  tensors: Map<string, HostTensor>;
  /** The header's `__metadata__` entries (`{}` when the file has none). */
  metadata: Record<string, string>;
}

/**
 * The dtype names of the safetensors format that {@link parseSafetensors} reads. Floating types
 * (`F64`, `F32`, `F16`, `BF16`) become `'float32'`; integer and boolean types become `'int32'`
 * (64-bit and `U32` values must fit in int32).
 */
export const SAFETENSORS_READ_DTYPES = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8', 'BOOL'] as const;

/** A safetensors dtype name that {@link parseSafetensors} reads. */
export type SafetensorsDType = (typeof SAFETENSORS_READ_DTYPES)[number];

/**
 * The largest header {@link parseSafetensors} accepts, in bytes (100 MB, the limit of the reference
 * implementation). A larger length prefix means a corrupt file or not a safetensors file at all.
 */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

const ITEMSIZE: Record<SafetensorsDType, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

const METADATA_KEY = '__metadata__';
const TWO_POW_32 = 4294967296;
const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const SUPPORTED_LIST = SAFETENSORS_READ_DTYPES.join(', ');

function isSafetensorsDType(s: string): s is SafetensorsDType {
  return Object.prototype.hasOwnProperty.call(ITEMSIZE, s);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A header value for a message (`missing` when absent); safe for any value (see `formatValue`). */
function describe(v: unknown): string {
  return v === undefined ? 'missing' : formatValue(v);
}

function toBytes(buffer: ArrayBuffer | Uint8Array): Uint8Array {
  if (buffer instanceof Uint8Array) return buffer;
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  // Cross-realm ArrayBuffers and other array-buffer views.
  if (ArrayBuffer.isView(buffer)) {
    const view = buffer as ArrayBufferView;
    return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  }
  if (Object.prototype.toString.call(buffer) === '[object ArrayBuffer]') {
    return new Uint8Array(buffer as ArrayBuffer);
  }
  throw new SafetensorsError(
    `safetensors: expected an ArrayBuffer or a Uint8Array, got ${describe(buffer)}; ` + 'pass the raw bytes of the file.',
  );
}

interface Entry {
  name: string;
  fileDType: SafetensorsDType;
  shape: number[];
  numel: number;
  start: number;
  end: number;
}

/** Validates one header entry (everything except the range of its offsets). */
function validateEntry(name: string, raw: unknown): Entry {
  const where = `safetensors header: tensor ${JSON.stringify(name)}`;
  if (!isPlainObject(raw)) {
    throw new SafetensorsError(
      `${where} is ${describe(raw)}, expected an object {"dtype", "shape", "data_offsets"}; the header is corrupt.`,
    );
  }
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== 'string') {
    throw new SafetensorsError(`${where}: "dtype" is ${describe(dtype)}, expected a string such as "F32"; the header is corrupt.`);
  }
  if (!isSafetensorsDType(dtype)) {
    throw new SafetensorsError(
      `${where}: unknown or unsupported dtype ${JSON.stringify(dtype)}. Supported dtypes: ${SUPPORTED_LIST}. ` +
        'Convert the tensor to one of them (e.g. float32) before saving.',
    );
  }
  if (!isShape(shape)) {
    throw new SafetensorsError(
      `${where}: "shape" is ${describe(shape)}, expected an array of non-negative integers (e.g. [2, 3], or [] for a scalar); the header is corrupt.`,
    );
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !isInteger(offsets[0], 0) ||
    !isInteger(offsets[1], 0) ||
    offsets[1] < offsets[0]
  ) {
    throw new SafetensorsError(
      `${where}: "data_offsets" is ${describe(offsets)}, expected [start, end] with integers 0 <= start <= end; the header is corrupt.`,
    );
  }
  const start = offsets[0] as number;
  const end = offsets[1] as number;
  let numel = 1;
  for (const d of shape as number[]) numel *= d;
  const itemsize = ITEMSIZE[dtype];
  const expected = numel * itemsize;
  if (end - start !== expected) {
    throw new SafetensorsError(
      `${where}: data_offsets [${start}, ${end}] span ${end - start} bytes, but dtype ${dtype} with shape ` +
        `[${(shape as number[]).join(', ')}] needs ${numel} x ${itemsize} = ${expected} bytes; the header is corrupt ` +
        '(wrong byte count).',
    );
  }
  return { name, fileDType: dtype, shape: (shape as number[]).slice(), numel, start, end };
}

function int32RangeError(entry: Entry, index: number, value: bigint): SafetensorsError {
  return new SafetensorsError(
    `safetensors: tensor ${JSON.stringify(entry.name)} (${entry.fileDType}): element ${index} is ${value}, ` +
      'which does not fit in int32 (-2147483648..2147483647); this library stores integer tensors as int32. ' +
      'Re-save the tensor with values in range, or as a float dtype.',
  );
}

/** Decodes the bytes of one tensor (exactly numel × itemsize of them) to a fresh typed array. */
function decode(entry: Entry, bytes: Uint8Array): HostTensor {
  const n = entry.numel;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = entry.shape;
  switch (entry.fileDType) {
    case 'F32': {
      const out = new Float32Array(n);
      if (IS_LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes);
      else for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      return { dtype: 'float32', shape, values: out };
    }
    case 'F64': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      return { dtype: 'float32', shape, values: out };
    }
    case 'F16': {
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = float16BitsToFloat32Bits(dv.getUint16(i * 2, true));
      return { dtype: 'float32', shape, values: out };
    }
    case 'BF16': {
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = bfloat16BitsToFloat32Bits(dv.getUint16(i * 2, true));
      return { dtype: 'float32', shape, values: out };
    }
    case 'I32': {
      const out = new Int32Array(n);
      if (IS_LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes);
      else for (let i = 0; i < n; i++) out[i] = dv.getInt32(i * 4, true);
      return { dtype: 'int32', shape, values: out };
    }
    case 'I64': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const lo = dv.getUint32(i * 8, true);
        const hi = dv.getInt32(i * 8 + 4, true);
        // Fits iff the high word is the sign extension of the low word's bit 31.
        if (hi !== (lo >= 0x80000000 ? -1 : 0)) throw int32RangeError(entry, i, dv.getBigInt64(i * 8, true));
        out[i] = lo | 0;
      }
      return { dtype: 'int32', shape, values: out };
    }
    case 'U64': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const lo = dv.getUint32(i * 8, true);
        const hi = dv.getUint32(i * 8 + 4, true);
        if (hi !== 0 || lo >= 0x80000000) throw int32RangeError(entry, i, dv.getBigUint64(i * 8, true));
        out[i] = lo;
      }
      return { dtype: 'int32', shape, values: out };
    }
    case 'U32': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = dv.getUint32(i * 4, true);
        if (v >= 0x80000000) throw int32RangeError(entry, i, BigInt(v));
        out[i] = v;
      }
      return { dtype: 'int32', shape, values: out };
    }
    case 'I16': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(i * 2, true);
      return { dtype: 'int32', shape, values: out };
    }
    case 'U16': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getUint16(i * 2, true);
      return { dtype: 'int32', shape, values: out };
    }
    case 'I8': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getInt8(i);
      return { dtype: 'int32', shape, values: out };
    }
    case 'U8': {
      const out = new Int32Array(n);
      out.set(bytes);
      return { dtype: 'int32', shape, values: out };
    }
    case 'BOOL': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = bytes[i] !== 0 ? 1 : 0;
      return { dtype: 'int32', shape, values: out };
    }
  }
}

/** Options of {@link parseSafetensors}. */
export interface ParseSafetensorsOptions {
  /**
   * What the bytes are, e.g. the file's path: every error message starts with it (`<source>: ...`).
   * `readSafetensorsFile` passes the path.
   */
  source?: string;
}

/**
 * Parses a safetensors file held in memory, strictly: the header must be a JSON object that starts
 * with `{`, repeats no key and nests at most `SAFETENSORS_MAX_HEADER_DEPTH` levels, and the tensors' `data_offsets` must cover
 * the data section exactly (sorted by offset, each tensor starts where the previous one ends, the
 * last one ends at the end of the buffer): no gap, no overlap, no trailing bytes. So a damaged
 * header-length prefix or offset is an error, never tensors read from shifted bytes.
 *
 * Floating-point tensors (`F32`, `F16`, `BF16`, `F64`) come back as `'float32'` (`F16`/`BF16` exactly,
 * `F64` rounded to nearest float32); integer and boolean tensors (`I64`, `I32`, `I16`, `I8`, `U64`,
 * `U32`, `U16`, `U8`, `BOOL`) as `'int32'`. Data is read little-endian on every platform and always
 * copied, so the result never aliases `buffer` and the data needs no alignment.
 *
 * @param buffer - the whole file: an `ArrayBuffer`, or a `Uint8Array` (any byte offset).
 * @param options - `source`: a name (e.g. the path) that starts every error message.
 * @returns the tensors by name (in header order) and the `__metadata__` map.
 * @throws {SafetensorsError} if the buffer is truncated, the header is not a UTF-8 JSON object, repeats
 *   a key or nests too deeply, a tensor has an unsupported dtype, an invalid shape or `data_offsets`, a
 *   byte count that does not match its shape, data outside the data section, overlapping another
 *   tensor's or leaving a gap, the data section has bytes after the last tensor, or a 64-bit/U32
 *   integer does not fit in int32. The message names the source, the tensor and what to do.
 */
export function parseSafetensors(buffer: ArrayBuffer | Uint8Array, options: ParseSafetensorsOptions = {}): SafetensorsFile {
  const { source } = options;
  if (source === undefined) return parseBytes(buffer);
  try {
    return parseBytes(buffer);
  } catch (e) {
    if (!(e instanceof SafetensorsError)) throw e;
    const named = new SafetensorsError(`${source}: ${e.message}`);
    named.cause = e;
    throw named;
  }
}

function parseBytes(buffer: ArrayBuffer | Uint8Array): SafetensorsFile {
  const bytes = toBytes(buffer);
  const total = bytes.byteLength;
  if (total < 8) {
    throw new SafetensorsError(
      `safetensors: the buffer is ${total} bytes long, shorter than the 8-byte header-length prefix; ` +
        'the file is truncated or not a safetensors file.',
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, total);
  const headerLen = view.getUint32(0, true) + view.getUint32(4, true) * TWO_POW_32;
  if (headerLen > SAFETENSORS_MAX_HEADER_BYTES) {
    throw new SafetensorsError(
      `safetensors: the header length prefix says ${headerLen} bytes, more than the ${SAFETENSORS_MAX_HEADER_BYTES}-byte ` +
        'limit; the file is corrupt or not a safetensors file.',
    );
  }
  if (8 + headerLen > total) {
    throw new SafetensorsError(
      `safetensors: the header length prefix says ${headerLen} bytes, but only ${total - 8} bytes follow it ` +
        `(header length beyond the end of the ${total}-byte file); the file is truncated or not a safetensors file.`,
    );
  }

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    throw new SafetensorsError('safetensors: the header is not valid UTF-8; the file is corrupt or not a safetensors file.');
  }
  const header = parseHeaderJson(text);
  if (!isPlainObject(header)) {
    throw new SafetensorsError(
      `safetensors: the header JSON is ${Array.isArray(header) ? 'an array' : describe(header)}, expected an object ` +
        'mapping tensor names to {"dtype", "shape", "data_offsets"}; the file is corrupt or not a safetensors file.',
    );
  }

  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (!isPlainObject(raw)) {
        throw new SafetensorsError(
          `safetensors header: "__metadata__" is ${describe(raw)}, expected an object of string values; the header is corrupt.`,
        );
      }
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') {
          throw new SafetensorsError(
            `safetensors header: "__metadata__" entry ${JSON.stringify(k)} is ${describe(v)}, expected a string; the header is corrupt.`,
          );
        }
      }
      metadata = Object.fromEntries(Object.entries(raw as Record<string, string>));
      continue;
    }
    entries.push(validateEntry(name, raw));
  }

  checkCoverage(entries, total - (8 + headerLen), headerLen);

  const dataStart = 8 + headerLen;
  const tensors = new Map<string, HostTensor>();
  for (const e of entries) {
    tensors.set(e.name, decode(e, bytes.subarray(dataStart + e.start, dataStart + e.end)));
  }
  return { tensors, metadata };
}

/**
 * The tensors' byte ranges must tile the data section exactly: sorted by offset, each starts where
 * the previous one ends, the first at 0, the last at the section's end (as the reference reader
 * checks). A header-length prefix that is off by a few bytes leaves bytes over (or missing) at the
 * end, so it is caught here rather than read as shifted tensors.
 */
function checkCoverage(entries: readonly Entry[], dataLen: number, headerLen: number): void {
  for (const e of entries) {
    if (e.end > dataLen) {
      throw new SafetensorsError(
        `safetensors: tensor ${JSON.stringify(e.name)}: data_offsets [${e.start}, ${e.end}] are out of range: they extend ` +
          `beyond the ${dataLen}-byte data section; the file is truncated or the header (or its length prefix, ${headerLen}) is corrupt.`,
      );
    }
  }
  const sorted = [...entries].sort((a, b) => a.start - b.start || a.end - b.end);
  let covered = 0;
  let prev: Entry | undefined;
  for (const cur of sorted) {
    if (cur.start < covered) {
      throw new SafetensorsError(
        `safetensors: tensors ${JSON.stringify(prev!.name)} [${prev!.start}, ${prev!.end}] and ${JSON.stringify(cur.name)} ` +
          `[${cur.start}, ${cur.end}] have overlapping data_offsets; the header is corrupt.`,
      );
    }
    if (cur.start > covered) {
      throw new SafetensorsError(
        `safetensors: bytes [${covered}, ${cur.start}) of the data section belong to no tensor (a gap ` +
          `${prev ? `between ${JSON.stringify(prev.name)} and` : 'before'} ${JSON.stringify(cur.name)}); every byte ` +
          'must belong to exactly one tensor. The header is corrupt.',
      );
    }
    covered = cur.end;
    prev = cur;
  }
  if (covered !== dataLen) {
    throw new SafetensorsError(
      `safetensors: the data section has ${dataLen - covered} byte(s) after the end of the last tensor's data ` +
        `(the tensors cover ${covered} of its ${dataLen} bytes); the header length prefix (${headerLen}) is wrong or ` +
        'the file has trailing bytes. The file is corrupt.',
    );
  }
}

/** Compares two strings by their UTF-8 bytes (= by Unicode code points), as the reference writer does. */
function compareUtf8(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const ca = ia.next();
    const cb = ib.next();
    if (ca.done) return cb.done ? 0 : -1;
    if (cb.done) return 1;
    const pa = ca.value.codePointAt(0)!;
    const pb = cb.value.codePointAt(0)!;
    if (pa !== pb) return pa - pb;
  }
}

const FILE_DTYPE: Record<DType, 'F32' | 'I32'> = { float32: 'F32', int32: 'I32' };

/** Checks a tensor passed to `serializeSafetensors`; returns its values. */
function checkTensor(name: string, t: HostTensor): TypedArray {
  const where = `serializeSafetensors: tensor ${JSON.stringify(name)}`;
  if (name === METADATA_KEY) {
    throw new SafetensorsError(`${where}: the name "__metadata__" is reserved for the metadata map; rename the tensor.`);
  }
  if (typeof t !== 'object' || t === null) {
    throw new SafetensorsError(`${where} is ${describe(t)}, expected {dtype, shape, values}.`);
  }
  if (t.dtype !== 'float32' && t.dtype !== 'int32') {
    throw new SafetensorsError(`${where}: dtype ${describe(t.dtype)} is not 'float32' or 'int32'.`);
  }
  if (!isShape(t.shape)) {
    throw new SafetensorsError(`${where}: shape ${describe(t.shape)} is not an array of non-negative integers.`);
  }
  const Expected = t.dtype === 'float32' ? Float32Array : Int32Array;
  if (!(t.values instanceof Expected)) {
    throw new SafetensorsError(
      `${where}: dtype '${t.dtype}' needs values in a ${Expected.name}, got ${
        (t.values as unknown as { constructor?: { name?: string } } | null)?.constructor?.name ?? describe(t.values)
      }.`,
    );
  }
  let numel = 1;
  for (const d of t.shape) numel *= d;
  if (t.values.length !== numel) {
    throw new SafetensorsError(`${where}: shape [${t.shape.join(', ')}] has ${numel} elements but values has ${t.values.length}.`);
  }
  return t.values;
}

/**
 * Serializes tensors to the standard safetensors layout: an 8-byte little-endian header length, a
 * compact JSON header padded with spaces to a multiple of 8 bytes, then the data of every tensor,
 * contiguous, in ascending order of name (by UTF-8 bytes), as `F32` (`'float32'`) or `I32`
 * (`'int32'`), little-endian. {@link parseSafetensors} reads the result back unchanged.
 *
 * @param tensors - the tensors by name, as a `Map` or a plain object. No name may be `"__metadata__"`.
 * @param metadata - optional string map stored as the header's `__metadata__` (omitted when undefined).
 * @returns the file's bytes.
 * @throws {SafetensorsError} if a tensor's dtype, shape or values are invalid or disagree, or a
 *   metadata value is not a string.
 */
export function serializeSafetensors(
  tensors: Map<string, HostTensor> | Record<string, HostTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const pairs: [string, HostTensor][] = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  pairs.sort((a, b) => compareUtf8(a[0], b[0]));

  const parts: string[] = [];
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) {
      throw new SafetensorsError(`serializeSafetensors: metadata is ${describe(metadata)}, expected an object of strings.`);
    }
    const meta: string[] = [];
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') {
        throw new SafetensorsError(
          `serializeSafetensors: metadata entry ${JSON.stringify(k)} is ${describe(v)}; safetensors metadata values must be strings.`,
        );
      }
      meta.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${meta.join(',')}}`);
  }

  const arrays: TypedArray[] = [];
  let offset = 0;
  for (const [name, t] of pairs) {
    const values = checkTensor(name, t);
    arrays.push(values);
    const end = offset + values.byteLength;
    // Built by hand (not JSON.stringify of an object) so that integer-like names keep their order.
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${FILE_DTYPE[t.dtype]}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }

  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLen = Math.ceil(json.length / 8) * 8;
  if (headerLen > SAFETENSORS_MAX_HEADER_BYTES) {
    throw new SafetensorsError(
      `serializeSafetensors: the header would be ${headerLen} bytes, over the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit of the format; ` +
        'split the tensors over several files or shorten the metadata.',
    );
  }
  const out = new Uint8Array(8 + headerLen + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLen % TWO_POW_32, true);
  view.setUint32(4, Math.floor(headerLen / TWO_POW_32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);

  let pos = 8 + headerLen;
  for (const values of arrays) {
    if (IS_LITTLE_ENDIAN) {
      out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), pos);
    } else if (values instanceof Float32Array) {
      for (let i = 0; i < values.length; i++) view.setFloat32(pos + i * 4, values[i]!, true);
    } else {
      for (let i = 0; i < values.length; i++) view.setInt32(pos + i * 4, values[i]!, true);
    }
    pos += values.byteLength;
  }
  return out;
}
