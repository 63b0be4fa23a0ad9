import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SafetensorsError } from '../src/errors.js';
import { parseSafetensors, serializeSafetensors, type HostTensor } from '../src/io/index.js';

const FIXTURES = new URL('../../../../shared/fixtures/hf-reformer/', import.meta.url);
const FIXTURE_FILES = ['model.safetensors', 'io.safetensors', 'rotations.safetensors'];

/** Minimal independent header reader: u64 LE length, then JSON. */
function readHeader(bytes: Uint8Array): { headerLen: number; header: Record<string, any> } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen))) as Record<string, any>;
  return { headerLen, header };
}

/** Builds a safetensors file by hand (independently of serializeSafetensors). */
function buildFile(header: Record<string, unknown>, data: Uint8Array | number[]): Uint8Array {
  let json = JSON.stringify(header);
  while (json.length % 8 !== 0) json += ' ';
  const h = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** Little-endian bytes of u16 values. */
function u16le(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 2);
  const dv = new DataView(b.buffer);
  values.forEach((v, i) => dv.setUint16(i * 2, v, true));
  return b;
}

/** Little-endian bytes of i64 values. */
function i64le(values: bigint[]): Uint8Array {
  const b = new Uint8Array(values.length * 8);
  const dv = new DataView(b.buffer);
  values.forEach((v, i) => dv.setBigInt64(i * 8, v, true));
  return b;
}

function expectError(fn: () => unknown, ...patterns: RegExp[]): SafetensorsError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(SafetensorsError);
  const err = caught as SafetensorsError;
  expect(err.name).toBe('SafetensorsError');
  for (const p of patterns) expect(err.message).toMatch(p);
  return err;
}

function fixtureFiles(): string[] {
  const root = fileURLToPath(FIXTURES);
  const out: string[] = [];
  for (const dir of readdirSync(root).sort()) {
    const full = `${root}${dir}`;
    if (!statSync(full).isDirectory()) continue;
    for (const f of readdirSync(full).sort()) if (f.endsWith('.safetensors')) out.push(`${full}/${f}`);
  }
  return out;
}

describe('parseSafetensors on the HF Reformer fixtures', () => {
  it('finds the fixture folder next to the repository', () => {
    expect(statSync(new URL('README.md', FIXTURES)).isFile()).toBe(true);
    const files = fixtureFiles();
    for (const dir of ['tiny-lsh-causal', 'lsh-layer']) {
      for (const f of FIXTURE_FILES) expect(files).toContain(`${fileURLToPath(FIXTURES)}${dir}/${f}`);
    }
  });

  for (const file of fixtureFiles()) {
    const label = file.slice(fileURLToPath(FIXTURES).length);
    it(`parses ${label}: names, shapes, dtypes and every value match the raw bytes`, () => {
      const bytes = new Uint8Array(readFileSync(file));
      const { headerLen, header } = readHeader(bytes);
      const parsed = parseSafetensors(bytes);

      expect(parsed.metadata).toEqual(header.__metadata__ ?? {});
      const names = Object.keys(header).filter((k) => k !== '__metadata__');
      expect(names.length).toBeGreaterThan(0);
      expect([...parsed.tensors.keys()].sort()).toEqual(names.sort());

      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const dataStart = 8 + headerLen;
      let sawI64 = false;
      for (const name of names) {
        const h = header[name] as { dtype: string; shape: number[]; data_offsets: [number, number] };
        const t = parsed.tensors.get(name)!;
        expect(t.shape, name).toEqual(h.shape);
        const numel = h.shape.reduce((a, b) => a * b, 1);
        expect(t.values.length, name).toBe(numel);
        // Never aliases the input.
        expect(t.values.buffer).not.toBe(bytes.buffer);
        const base = dataStart + h.data_offsets[0];
        if (h.dtype === 'F32') {
          expect(t.dtype).toBe('float32');
          expect(t.values).toBeInstanceOf(Float32Array);
          for (let i = 0; i < numel; i++) {
            const want = dv.getFloat32(base + i * 4, true);
            if (!Object.is(t.values[i], want)) {
              expect(t.values[i], `${name}[${i}]`).toBe(want);
            }
          }
        } else if (h.dtype === 'I64') {
          sawI64 = true;
          expect(t.dtype).toBe('int32');
          expect(t.values).toBeInstanceOf(Int32Array);
          for (let i = 0; i < numel; i++) {
            const want = Number(dv.getBigInt64(base + i * 8, true));
            if (t.values[i] !== want) expect(t.values[i], `${name}[${i}]`).toBe(want);
          }
        } else {
          throw new Error(`fixture uses dtype ${h.dtype}, extend this test`);
        }
      }
      if (label.endsWith('io.safetensors')) expect(sawI64).toBe(true);
    });
  }

  it('decodes lsh-layer buckets exactly: 2 rounds x 8 buckets with the round offset', () => {
    const bytes = readFileSync(new URL('lsh-layer/io.safetensors', FIXTURES));
    const t = parseSafetensors(bytes).tensors.get('buckets')!;
    expect(t.dtype).toBe('int32');
    expect(t.shape).toEqual([1, 2, 2, 64]);
    // [B, nH, nR, T]: round r holds buckets r*8 .. r*8+7.
    for (let m = 0; m < 2; m++) {
      for (let r = 0; r < 2; r++) {
        for (let t2 = 0; t2 < 64; t2++) {
          const v = t.values[(m * 2 + r) * 64 + t2]!;
          expect(v >= r * 8 && v < r * 8 + 8).toBe(true);
        }
      }
    }
  });

  it('reads from a Uint8Array at an unaligned byte offset, and from an ArrayBuffer', () => {
    const raw = new Uint8Array(readFileSync(new URL('lsh-layer/rotations.safetensors', FIXTURES)));
    const big = new Uint8Array(raw.length + 3);
    big.set(raw, 3);
    const a = parseSafetensors(big.subarray(3));
    const b = parseSafetensors(raw.slice().buffer);
    const ta = a.tensors.get('layers.0.rotations')!;
    const tb = b.tensors.get('layers.0.rotations')!;
    expect(ta.shape).toEqual([2, 16, 2, 4]);
    expect(Array.from(ta.values)).toEqual(Array.from(tb.values));
    // The copy is independent of the input.
    const before = ta.values[0];
    big.fill(0);
    expect(ta.values[0]).toBe(before);
  });

  it('round-trips a fixture file through serialize byte for byte (F32 only file)', () => {
    const raw = new Uint8Array(readFileSync(new URL('lsh-layer/rotations.safetensors', FIXTURES)));
    const parsed = parseSafetensors(raw);
    const again = serializeSafetensors(parsed.tensors, parsed.metadata);
    expect(Buffer.from(again).equals(Buffer.from(raw))).toBe(true);
  });
});

describe('serializeSafetensors / parseSafetensors round trip', () => {
  const f32 = (shape: number[], values: number[]): HostTensor => ({
    dtype: 'float32',
    shape,
    values: Float32Array.from(values),
  });
  const i32 = (shape: number[], values: number[]): HostTensor => ({
    dtype: 'int32',
    shape,
    values: Int32Array.from(values),
  });

  it('round-trips F32 and I32 including a scalar, empty tensors and special floats', () => {
    const tensors = new Map<string, HostTensor>([
      ['weight', f32([2, 3], [1, -2, 3.5, 1e-30, -0, 7])],
      ['special', f32([4], [Infinity, -Infinity, NaN, 2 ** -149])],
      ['scalar', f32([], [42.25])],
      ['empty', f32([0], [])],
      ['empty2d', i32([2, 0, 3], [])],
      ['ids', i32([3], [-2147483648, 0, 2147483647])],
      ['iscalar', i32([], [-7])],
    ]);
    const bytes = serializeSafetensors(tensors, { format: 'pt', note: 'héllo "quoted"' });
    const back = parseSafetensors(bytes);
    expect(back.metadata).toEqual({ format: 'pt', note: 'héllo "quoted"' });
    expect([...back.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
    for (const [name, t] of tensors) {
      const b = back.tensors.get(name)!;
      expect(b.dtype, name).toBe(t.dtype);
      expect(b.shape, name).toEqual(t.shape);
      expect(b.values.constructor, name).toBe(t.values.constructor);
      expect(b.values.length, name).toBe(t.values.length);
      for (let i = 0; i < t.values.length; i++) expect(Object.is(b.values[i], t.values[i]), `${name}[${i}]`).toBe(true);
    }
  });

  it('accepts a plain object and omits __metadata__ when none is given', () => {
    const bytes = serializeSafetensors({ a: f32([1], [1]), b: i32([2], [3, 4]) });
    const { header } = readHeader(bytes);
    expect(header.__metadata__).toBeUndefined();
    expect(header.a).toEqual({ dtype: 'F32', shape: [1], data_offsets: [0, 4] });
    expect(header.b).toEqual({ dtype: 'I32', shape: [2], data_offsets: [4, 12] });
    const back = parseSafetensors(bytes);
    expect(back.metadata).toEqual({});
    expect(Array.from(back.tensors.get('b')!.values)).toEqual([3, 4]);
  });

  it('writes the standard layout: padded header, names ascending by bytes, contiguous data', () => {
    const tensors = {
      b: f32([1], [2]),
      '10': f32([1], [3]),
      a: i32([2], [5, 6]),
      '2': f32([1], [4]),
      B: f32([], [1]),
      é: f32([1], [9]),
      '\u{1F600}': f32([1], [10]), // UTF-8 F0..., UTF-16 D83D...: sorts after U+FF01 by bytes
      '\uFF01': f32([1], [11]),
    };
    const bytes = serializeSafetensors(tensors);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const { headerLen, header } = readHeader(bytes);
    expect(dv.getUint32(4, true)).toBe(0);
    expect(headerLen % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + headerLen));
    expect(text.startsWith('{')).toBe(true);
    expect(text.trimEnd().endsWith('}')).toBe(true);
    expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
    const order = ['10', '2', 'B', 'a', 'b', 'é', '\uFF01', '\u{1F600}'];
    // Keys appear in the JSON text in that order too.
    const positions = order.map((k) => text.indexOf(`${JSON.stringify(k)}:`));
    expect(positions.every((p, i) => p >= 0 && (i === 0 || p > positions[i - 1]!))).toBe(true);
    let off = 0;
    for (const k of order) {
      const h = header[k] as { data_offsets: [number, number] };
      expect(h.data_offsets[0], k).toBe(off);
      off = h.data_offsets[1];
    }
    expect(bytes.length).toBe(8 + headerLen + off);
    // Raw data of "a" (I32 [5, 6]) at its offset.
    const aStart = 8 + headerLen + (header.a as { data_offsets: number[] }).data_offsets[0]!;
    expect(dv.getInt32(aStart, true)).toBe(5);
    expect(dv.getInt32(aStart + 4, true)).toBe(6);
  });

  it('rejects invalid tensors on serialize', () => {
    expectError(() => serializeSafetensors({ x: { dtype: 'float32', shape: [3], values: new Float32Array(2) } }), /"x"/, /3 elements/);
    expectError(() => serializeSafetensors({ x: { dtype: 'int32', shape: [2], values: new Float32Array(2) } }), /Int32Array/);
    expectError(() => serializeSafetensors({ x: { dtype: 'float32', shape: [-1], values: new Float32Array(0) } }), /shape/);
    expectError(() => serializeSafetensors({ __metadata__: f32([1], [1]) }), /reserved/);
    expectError(() => serializeSafetensors({}, { n: 1 as unknown as string }), /must be strings/);
  });
});

describe('16-bit float and other dtype decoding', () => {
  it('decodes F16 values per IEEE 754 binary16', () => {
    // bits -> value from the definition (-1)^s * 2^(e-15) * (1 + m/1024), subnormal 2^-14 * m/1024.
    const cases: [number, number][] = [
      [0x3c00, 1.0],
      [0xc000, -2.0],
      [0x7bff, (1 + 1023 / 1024) * 2 ** 15], // 65504, largest finite
      [0x0001, 2 ** -24], // smallest subnormal
      [0x03ff, 2 ** -14 * (1023 / 1024)], // largest subnormal
      [0x8200, -(2 ** -14) * (512 / 1024)], // negative subnormal
      [0x0400, 2 ** -14], // smallest normal
      [0x3555, 2 ** -2 * (1 + 0x155 / 1024)],
      [0x3c01, 1 + 1 / 1024],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
      [0x0000, 0],
      [0x8000, -0],
    ];
    const nanBits = [0x7e00, 0x7c01, 0xfe00];
    const bits = [...cases.map((c) => c[0]), ...nanBits];
    const file = buildFile({ h: { dtype: 'F16', shape: [bits.length], data_offsets: [0, bits.length * 2] } }, u16le(bits));
    const t = parseSafetensors(file).tensors.get('h')!;
    expect(t.dtype).toBe('float32');
    expect(t.values).toBeInstanceOf(Float32Array);
    expect(cases[2]![1]).toBe(65504);
    cases.forEach(([b, want], i) => {
      expect(Object.is(t.values[i], want), `0x${b.toString(16)} -> ${t.values[i]}, want ${want}`).toBe(true);
    });
    for (let i = 0; i < nanBits.length; i++) expect(Number.isNaN(t.values[cases.length + i])).toBe(true);
  });

  it('decodes BF16 values (the top 16 bits of a binary32)', () => {
    // bits -> (-1)^s * 2^(e-127) * (1 + m/128), subnormal 2^-126 * m/128.
    const cases: [number, number][] = [
      [0x3f80, 1.0],
      [0xc000, -2.0],
      [0x477f, 2 ** 15 * (1 + 127 / 128)], // 65280: nearest bf16 below 65504
      [0x4780, 65536],
      [0x3380, 2 ** -24], // 2^-24 is a normal bf16
      [0x0001, 2 ** -126 * (1 / 128)], // smallest subnormal, 2^-133
      [0x7f7f, 2 ** 127 * (1 + 127 / 128)], // largest finite
      [0x7f80, Infinity],
      [0xff80, -Infinity],
      [0x8000, -0],
    ];
    const bits = [...cases.map((c) => c[0]), 0x7fc0, 0xffc1];
    const file = buildFile({ h: { dtype: 'BF16', shape: [2, 6], data_offsets: [0, bits.length * 2] } }, u16le(bits));
    const t = parseSafetensors(file).tensors.get('h')!;
    expect(t.shape).toEqual([2, 6]);
    cases.forEach(([b, want], i) => {
      expect(Object.is(t.values[i], want), `0x${b.toString(16)} -> ${t.values[i]}, want ${want}`).toBe(true);
    });
    expect(Number.isNaN(t.values[10])).toBe(true);
    expect(Number.isNaN(t.values[11])).toBe(true);
  });

  it('decodes F64 to the nearest float32', () => {
    const vals = [1 / 3, -1e300, 0.1, 2 ** 100];
    const data = new Uint8Array(vals.length * 8);
    const dv = new DataView(data.buffer);
    vals.forEach((v, i) => dv.setFloat64(i * 8, v, true));
    const t = parseSafetensors(buildFile({ d: { dtype: 'F64', shape: [4], data_offsets: [0, 32] } }, data)).tensors.get('d')!;
    expect(t.dtype).toBe('float32');
    expect(Array.from(t.values)).toEqual([Math.fround(1 / 3), -Infinity, Math.fround(0.1), 2 ** 100]);
  });

  it('decodes I64 exactly at the int32 limits, and small integer types', () => {
    const i64 = i64le([-2147483648n, -1n, 0n, 1n, 2147483647n, -123456789n]);
    const i16 = u16le([0x8000, 0x7fff, 0xffff]); // I16: -32768, 32767, -1
    const file = buildFile(
      {
        a: { dtype: 'I64', shape: [2, 3], data_offsets: [0, 48] },
        b: { dtype: 'I8', shape: [3], data_offsets: [48, 51] },
        c: { dtype: 'U8', shape: [2], data_offsets: [51, 53] },
        d: { dtype: 'BOOL', shape: [3], data_offsets: [53, 56] },
        e: { dtype: 'I16', shape: [3], data_offsets: [56, 62] },
        f: { dtype: 'U16', shape: [1], data_offsets: [62, 64] },
        g: { dtype: 'U32', shape: [1], data_offsets: [64, 68] },
        h: { dtype: 'U64', shape: [1], data_offsets: [68, 76] },
      },
      [
        ...i64,
        0x80,
        0x7f,
        0xff, // I8: -128, 127, -1
        0xff,
        0x00, // U8: 255, 0
        0x01,
        0x00,
        0x02, // BOOL (any non-zero byte is true)
        ...i16,
        0xff,
        0xff, // U16 65535
        0xff,
        0xff,
        0xff,
        0x7f, // U32 2^31-1
        0x05,
        0,
        0,
        0,
        0,
        0,
        0,
        0, // U64 5
      ],
    );
    const ts = parseSafetensors(file).tensors;
    for (const t of ts.values()) {
      expect(t.dtype).toBe('int32');
      expect(t.values).toBeInstanceOf(Int32Array);
    }
    expect(Array.from(ts.get('a')!.values)).toEqual([-2147483648, -1, 0, 1, 2147483647, -123456789]);
    expect(Array.from(ts.get('b')!.values)).toEqual([-128, 127, -1]);
    expect(Array.from(ts.get('c')!.values)).toEqual([255, 0]);
    expect(Array.from(ts.get('d')!.values)).toEqual([1, 0, 1]);
    expect(Array.from(ts.get('e')!.values)).toEqual([-32768, 32767, -1]);
    expect(Array.from(ts.get('f')!.values)).toEqual([65535]);
    expect(Array.from(ts.get('g')!.values)).toEqual([2147483647]);
    expect(Array.from(ts.get('h')!.values)).toEqual([5]);
  });
});

describe('parseSafetensors rejects corrupt files', () => {
  const good = () =>
    buildFile({ __metadata__: { format: 'pt' }, x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8));

  it('sanity: the base file parses', () => {
    expect(parseSafetensors(good()).tensors.get('x')!.shape).toEqual([2]);
  });

  it('truncated header length (< 8 bytes)', () => {
    expectError(() => parseSafetensors(new Uint8Array(5)), /5 bytes/, /8-byte header-length/, /truncated/);
    expectError(() => parseSafetensors(new ArrayBuffer(0)), /0 bytes/);
  });

  it('header length beyond the file', () => {
    const f = good();
    expectError(() => parseSafetensors(f.subarray(0, 20)), /header length/, /beyond the end/, /truncated/);
  });

  it('absurdly large header length', () => {
    const f = new Uint8Array(16);
    new DataView(f.buffer).setUint32(0, 200_000_000, true);
    expectError(() => parseSafetensors(f), /200000000/, /limit/);
    const g = new Uint8Array(16);
    new DataView(g.buffer).setUint32(4, 1, true); // 2^32
    expectError(() => parseSafetensors(g), /4294967296/, /limit/);
  });

  it('bad JSON', () => {
    const text = new TextEncoder().encode('{"x": {"dtype": "F32",   ');
    const f = new Uint8Array(8 + text.length);
    new DataView(f.buffer).setUint32(0, text.length, true);
    f.set(text, 8);
    expectError(() => parseSafetensors(f), /not valid JSON/);
  });

  it('header not valid UTF-8', () => {
    const f = new Uint8Array(16);
    new DataView(f.buffer).setUint32(0, 8, true);
    f.set([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x20, 0x20], 8);
    expectError(() => parseSafetensors(f), /not valid UTF-8/);
  });

  it('header not an object', () => {
    expectError(() => parseSafetensors(buildFile([1, 2] as unknown as Record<string, unknown>, [])), /an array/, /expected an object/);
    const f = new Uint8Array(16);
    new DataView(f.buffer).setUint32(0, 8, true);
    f.set(new TextEncoder().encode('null    '), 8);
    expectError(() => parseSafetensors(f), /null/, /expected an object/);
  });

  it('unknown dtype: names it and lists the supported ones', () => {
    const f = buildFile({ x: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, new Uint8Array(2));
    expectError(() => parseSafetensors(f), /"x"/, /unknown or unsupported dtype "F8_E4M3"/, /F32, F16, BF16, F64, I64, I32/);
  });

  it('invalid shape', () => {
    for (const shape of [[2, -1], [1.5], '2', null, [2, '3']]) {
      const f = buildFile({ x: { dtype: 'F32', shape, data_offsets: [0, 8] } }, new Uint8Array(8));
      expectError(() => parseSafetensors(f), /"x"/, /"shape"/, /non-negative integers/);
    }
  });

  it('invalid data_offsets', () => {
    for (const offs of [[0], [0, 8, 9], [8, 0], [0, '8'], [-1, 7], null]) {
      const f = buildFile({ x: { dtype: 'F32', shape: [2], data_offsets: offs } }, new Uint8Array(8));
      expectError(() => parseSafetensors(f), /"x"/, /"data_offsets"/, /\[start, end\]/);
    }
  });

  it('offsets out of range of the data section', () => {
    const f = buildFile({ x: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(8));
    expectError(() => parseSafetensors(f), /"x"/, /\[4, 12\]/, /out of range/, /8-byte data section/);
  });

  it('wrong byte count for the shape and dtype', () => {
    const f = buildFile({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(12));
    expectError(() => parseSafetensors(f), /"x"/, /span 8 bytes/, /needs 3 x 4 = 12 bytes/, /wrong byte count/);
  });

  it('overlapping tensors', () => {
    const f = buildFile(
      {
        x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        y: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
      },
      new Uint8Array(12),
    );
    expectError(() => parseSafetensors(f), /"x"/, /"y"/, /overlapping/);
  });

  it('I64 value out of int32 range: names the tensor, element and value', () => {
    const f = buildFile({ ids: { dtype: 'I64', shape: [3], data_offsets: [0, 24] } }, i64le([1n, 2147483648n, 0n]));
    expectError(() => parseSafetensors(f), /"ids"/, /I64/, /element 1 is 2147483648/, /int32/);
    const g = buildFile({ ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, i64le([-2147483649n]));
    expectError(() => parseSafetensors(g), /"ids"/, /-2147483649/, /int32/);
    const h = buildFile({ ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, i64le([1n << 40n]));
    expectError(() => parseSafetensors(h), /1099511627776/);
  });

  it('invalid __metadata__', () => {
    const f = buildFile({ __metadata__: { a: 1 } }, []);
    expectError(() => parseSafetensors(f), /__metadata__/, /"a"/, /expected a string/);
  });
});
