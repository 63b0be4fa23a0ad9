/**
 * Property-based fuzzing of `parseSafetensors` (fast-check, fixed seed and run counts) over our own
 * serialized checkpoint and the Hugging Face fixture's weights: truncations, byte changes in the
 * header, header-length edits, offset edits, dtype edits, duplicate keys and deep nesting.
 *
 * The property: every mutated file either throws a `SafetensorsError` (never another exception), or
 * loads exactly what an independent reading of the mutated bytes gives (the header parsed with
 * `JSON.parse`, the byte ranges tiling the data section, every value decoded here with `DataView` and
 * compared bit for bit). Mutations that can never give a valid file (truncation, a changed length
 * prefix, a moved non-empty tensor, nesting, a duplicate name) must throw.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SafetensorsError } from '../src/errors.js';
import { parseSafetensors, serializeSafetensors, type SafetensorsFile } from '../src/io/index.js';

const HF_MODEL = fileURLToPath(new URL('../../../../shared/fixtures/hf-reformer/tiny-lsh-causal/model.safetensors', import.meta.url));
const SEED = 20261203;
const RUNS = 2000;

interface RawEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

interface Layout {
  bytes: Uint8Array;
  headerLen: number;
  header: Record<string, unknown>;
  /** The tensor names, in header order. */
  names: string[];
  data: Uint8Array;
}

function layout(bytes: Uint8Array): Layout {
  const headerLen = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen))) as Record<string, unknown>;
  return { bytes, headerLen, header, names: Object.keys(header).filter((k) => k !== '__metadata__'), data: bytes.subarray(8 + headerLen) };
}

/** A file from header text (padded with spaces to a multiple of 8) and a data section. */
function assemble(text: string, data: Uint8Array): Uint8Array {
  const pad = (8 - (new TextEncoder().encode(text).length % 8)) % 8;
  const h = new TextEncoder().encode(text + ' '.repeat(pad));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** The header with one tensor entry replaced (key order kept). */
function withEntry(l: Layout, name: string, edit: (e: RawEntry) => unknown): Uint8Array {
  const h: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(l.header)) h[k] = k === name ? edit(structuredClone(v) as RawEntry) : v;
  return assemble(JSON.stringify(h), l.data);
}

// ---------------------------------------------------------------- the independent reading

const ITEMSIZE: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  U64: 8,
  I32: 4,
  U32: 4,
  I16: 2,
  U16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** binary16 bits → number, from the IEEE 754 definition. */
function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  if (exp === 0) return sign * frac * 2 ** -24;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

type Want = { dtype: 'float32' | 'int32'; shape: number[]; bits: number[]; exactBits: boolean };

/**
 * What a correct reader must return for `bytes`, or undefined if the file is invalid. Written from
 * the format's description, without sharing code with the reader under test. Duplicate keys cannot
 * be seen through `JSON.parse`: the explicit tests of io-safetensors-strict cover them.
 */
function independentReading(bytes: Uint8Array): Map<string, Want> | undefined {
  if (bytes.length < 8) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
  if (8 + n > bytes.length) return undefined;
  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
    if (text[0] !== '{') return undefined;
    header = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return undefined;
  const entries: [string, RawEntry][] = [];
  for (const [k, v] of Object.entries(header)) {
    if (k === '__metadata__') {
      if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) return undefined;
      continue;
    }
    const e = v as RawEntry;
    if (typeof e !== 'object' || e === null || Array.isArray(e) || !(typeof e.dtype === 'string' && e.dtype in ITEMSIZE)) return undefined;
    if (!Array.isArray(e.shape) || !e.shape.every(isIndex)) return undefined;
    const o = e.data_offsets;
    if (!Array.isArray(o) || o.length !== 2 || !isIndex(o[0]) || !isIndex(o[1])) return undefined;
    if (o[1] - o[0] !== e.shape.reduce((a, b) => a * b, 1) * ITEMSIZE[e.dtype]!) return undefined;
    entries.push([k, e]);
  }
  // The ranges must tile [0, data length) exactly.
  const dataLen = bytes.length - 8 - n;
  const ranges = entries.map(([, e]) => e.data_offsets).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let at = 0;
  for (const [s, e] of ranges) {
    if (s !== at) return undefined;
    at = e;
  }
  if (at !== dataLen) return undefined;

  const out = new Map<string, Want>();
  const f32 = new DataView(new ArrayBuffer(4));
  const floatBits = (x: number) => (f32.setFloat32(0, x, true), f32.getUint32(0, true));
  for (const [name, e] of entries) {
    const base = 8 + n + e.data_offsets[0];
    const numel = e.shape.reduce((a, b) => a * b, 1);
    const bits: number[] = [];
    let dtype: 'float32' | 'int32' = 'int32';
    let exactBits = true;
    for (let i = 0; i < numel; i++) {
      let v: number;
      switch (e.dtype) {
        case 'F32':
          dtype = 'float32';
          v = dv.getUint32(base + 4 * i, true);
          break;
        case 'BF16':
          dtype = 'float32';
          v = dv.getUint16(base + 2 * i, true) * 65536;
          break;
        case 'F16':
          dtype = 'float32';
          exactBits = false; // NaN payloads: compared as NaN
          v = floatBits(halfToNumber(dv.getUint16(base + 2 * i, true)));
          break;
        case 'F64':
          dtype = 'float32';
          exactBits = false;
          v = floatBits(Math.fround(dv.getFloat64(base + 8 * i, true)));
          break;
        case 'I64':
        case 'U64': {
          const big = e.dtype === 'I64' ? dv.getBigInt64(base + 8 * i, true) : dv.getBigUint64(base + 8 * i, true);
          if (big < -(2n ** 31n) || big >= 2n ** 31n) return undefined;
          v = Number(big) >>> 0;
          break;
        }
        case 'I32':
          v = dv.getUint32(base + 4 * i, true);
          break;
        case 'U32':
          v = dv.getUint32(base + 4 * i, true);
          if (v >= 2 ** 31) return undefined;
          break;
        case 'I16':
          v = dv.getInt16(base + 2 * i, true) >>> 0;
          break;
        case 'U16':
          v = dv.getUint16(base + 2 * i, true);
          break;
        case 'I8':
          v = dv.getInt8(base + i) >>> 0;
          break;
        case 'U8':
          v = dv.getUint8(base + i);
          break;
        default: // BOOL
          v = dv.getUint8(base + i) !== 0 ? 1 : 0;
      }
      bits.push(v);
    }
    if (e.dtype.startsWith('F') || e.dtype === 'BF16') dtype = 'float32';
    out.set(name, { dtype, shape: e.shape, bits, exactBits });
  }
  return out;
}

/** The bits of every value of a parsed tensor (float32 or int32), as unsigned 32-bit numbers. */
function bitsOf(values: Float32Array | Int32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

function isNaNBits(b: number): boolean {
  return (b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0;
}

/** The property: a SafetensorsError, or exactly the independent reading. `mustFail`: no valid reading can exist. */
function check(bytes: Uint8Array, mustFail: boolean): void {
  let parsed: SafetensorsFile | undefined;
  try {
    parsed = parseSafetensors(bytes);
  } catch (e) {
    if (!(e instanceof SafetensorsError))
      throw new Error(`not a SafetensorsError: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    expect(e.message).toMatch(/^safetensors/);
  }
  const want = independentReading(bytes);
  if (parsed === undefined) {
    // Rejected: fine unless the file was valid by the independent reading (which cannot see duplicate keys).
    if (want !== undefined && !mustFail) throw new Error('a valid file was rejected');
    return;
  }
  if (mustFail) throw new Error('a file that cannot be valid was accepted');
  if (want === undefined) throw new Error('an invalid file was accepted (the independent reading rejects it)');
  expect([...parsed.tensors.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [name, w] of want) {
    const t = parsed.tensors.get(name)!;
    expect(t.dtype, name).toBe(w.dtype);
    expect(t.shape, name).toEqual(w.shape);
    const got = bitsOf(t.values);
    expect(got.length, name).toBe(w.bits.length);
    for (let i = 0; i < got.length; i++) {
      const same = got[i] === w.bits[i] || (!w.exactBits && isNaNBits(got[i]!) && isNaNBits(w.bits[i]!));
      if (!same) throw new Error(`${name}[${i}]: bits ${got[i]!.toString(16)}, expected ${w.bits[i]!.toString(16)}`);
    }
  }
}

// ---------------------------------------------------------------- mutations

const DTYPES = ['F32', 'I32', 'U32', 'F16', 'BF16', 'F64', 'I64', 'U64', 'I16', 'U16', 'I8', 'U8', 'BOOL', 'F31', 'f32', '', 'F32 '];

interface Mutation {
  label: string;
  bytes: Uint8Array;
  mustFail: boolean;
}

function mutations(l: Layout): fc.Arbitrary<Mutation> {
  const total = l.bytes.length;
  const name = fc.constantFrom(...l.names);
  const nonEmpty = l.names.filter((k) => {
    const o = (l.header[k] as RawEntry).data_offsets;
    return o[1] > o[0];
  });
  const truncate = fc
    .integer({ min: 0, max: total - 1 })
    .map((n) => ({ label: `truncate to ${n}`, bytes: l.bytes.slice(0, n), mustFail: true }));
  const headerByte = fc.tuple(fc.integer({ min: 8, max: 8 + l.headerLen - 1 }), fc.integer({ min: 0, max: 255 })).map(([i, b]) => {
    const bytes = l.bytes.slice();
    bytes[i] = b;
    return { label: `header byte ${i} = ${b}`, bytes, mustFail: false };
  });
  const prefix = fc
    .oneof(fc.integer({ min: -16, max: 16 }), fc.integer({ min: -l.headerLen, max: total }), fc.constantFrom(2 ** 32, 2 ** 40, 2 ** 53))
    .filter((d) => d !== 0)
    .map((d) => {
      const bytes = l.bytes.slice();
      const v = Math.max(0, l.headerLen + d);
      const dv = new DataView(bytes.buffer);
      dv.setUint32(0, v % 2 ** 32, true);
      dv.setUint32(4, Math.floor(v / 2 ** 32) % 2 ** 32, true);
      return { label: `header length ${l.headerLen} → ${v}`, bytes, mustFail: v !== l.headerLen };
    });
  const offset = fc
    .tuple(name, fc.integer({ min: 0, max: 1 }), fc.oneof(fc.integer({ min: -8, max: 8 }), fc.integer({ min: -total, max: total })))
    .filter(([, , d]) => d !== 0)
    .map(([k, which, d]) => ({
      label: `${k}.data_offsets[${which}] += ${d}`,
      bytes: withEntry(l, k, (e) => {
        e.data_offsets[which] = e.data_offsets[which]! + d;
        return e;
      }),
      mustFail: true, // the span no longer matches the shape
    }));
  const shift = fc
    .tuple(
      fc.constantFrom(...nonEmpty),
      fc.integer({ min: -64, max: 64 }).filter((d) => d !== 0),
    )
    .map(([k, d]) => ({
      label: `${k} moved by ${d}`,
      bytes: withEntry(l, k, (e) => {
        e.data_offsets = [e.data_offsets[0] + d, e.data_offsets[1] + d];
        return e;
      }),
      mustFail: true, // a gap or an overlap
    }));
  const dtype = fc.tuple(name, fc.constantFrom(...DTYPES)).map(([k, dt]) => ({
    label: `${k}.dtype = ${JSON.stringify(dt)}`,
    bytes: withEntry(l, k, (e) => {
      e.dtype = dt;
      return e;
    }),
    mustFail: false,
  }));
  const nesting = fc
    .tuple(
      name,
      fc.constantFrom('shape', 'data_offsets', 'dtype', 'entry', 'header'),
      fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 6000 })),
    )
    .map(([k, where, depth]) => {
      const nested = `${'['.repeat(depth)}"x"${']'.repeat(depth)}`; // never a valid shape, offsets, dtype or entry
      const text =
        where === 'header'
          ? nested
          : JSON.stringify(l.header).replace(
              `${JSON.stringify(k)}:${JSON.stringify(l.header[k])}`,
              `${JSON.stringify(k)}:${where === 'entry' ? nested : JSON.stringify(l.header[k]).replace(new RegExp(`"${where}":("[^"]*"|\\[[^\\]]*\\])`), `"${where}":${nested}`)}`,
            );
      return { label: `${depth} nested arrays in ${where} of ${k}`, bytes: assemble(text, l.data), mustFail: true };
    });
  const duplicate = name.map((k) => {
    const text = JSON.stringify(l.header);
    const entry = `${JSON.stringify(k)}:${JSON.stringify(l.header[k])}`;
    return { label: `${k} twice`, bytes: assemble(text.replace(entry, `${entry},${entry}`), l.data), mustFail: true };
  });
  // Counterexamples print as their label, not as the file's bytes.
  return fc
    .oneof(truncate, headerByte, prefix, offset, shift, dtype, nesting, duplicate)
    .map((m) => Object.assign(m, { [fc.toStringMethod]: () => m.label }));
}

// ---------------------------------------------------------------- the files

function ownCheckpoint(): Uint8Array {
  const values = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));
  return serializeSafetensors(
    {
      'embeddings.word_embeddings.weight': { dtype: 'float32', shape: [6, 4], values: values(24, (i) => Math.sin(i + 1) * 0.1) },
      'encoder.layers.0.attention.self_attention.query_key.weight': {
        dtype: 'float32',
        shape: [4, 4],
        values: values(16, (i) => (i - 8) / 9),
      },
      'encoder.layers.0.feed_forward.dense.bias': {
        dtype: 'float32',
        shape: [8],
        values: Float32Array.of(0, -0, 1e-40, -1, 3.5, Infinity, -Infinity, NaN),
      },
      'encoder.layer_norm.weight': { dtype: 'float32', shape: [0, 4], values: new Float32Array(0) },
      step: { dtype: 'int32', shape: [], values: Int32Array.of(120) },
      'replay.buckets': { dtype: 'int32', shape: [2, 3], values: Int32Array.of(0, 7, -3, 2147483647, -2147483648, 5) },
    },
    { format: 'pt', library: 'reformer-ts' },
  );
}

const FILES: [string, () => Uint8Array][] = [
  ['our own checkpoint (serializeSafetensors)', ownCheckpoint],
  ['the Hugging Face fixture tiny-lsh-causal/model.safetensors', () => new Uint8Array(readFileSync(HF_MODEL))],
];

describe('parseSafetensors fuzzing: every mutated file loads exactly or throws SafetensorsError', () => {
  for (const [label, load] of FILES) {
    it(label, () => {
      const l = layout(load());
      check(l.bytes, false); // the unmutated file is valid and reads as the independent reading
      expect(independentReading(l.bytes)).toBeDefined();
      let accepted = 0;
      fc.assert(
        fc.property(mutations(l), (m) => {
          try {
            check(m.bytes, m.mustFail);
          } catch (e) {
            throw new Error(`${m.label}: ${e instanceof Error ? e.message : String(e)}`);
          }
          if (!m.mustFail && independentReading(m.bytes)) accepted++;
        }),
        { seed: SEED, numRuns: RUNS },
      );
      // Both outcomes are exercised: some mutations give valid files (renamed tensors, dtypes of the same size).
      expect(accepted).toBeGreaterThan(0);
    });
  }
});
