/**
 * Strict safetensors reading: the tensors' byte ranges tile the data section exactly (so a
 * header-length prefix shrunk into the space padding is an error, not tensors read from shifted
 * bytes), no duplicate keys, no absurd nesting, and every error names the file.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsError } from '../src/errors.js';
import { parseSafetensors, SAFETENSORS_MAX_HEADER_DEPTH, serializeSafetensors } from '../src/io/index.js';
import { readSafetensorsFile } from '../src/node/index.js';

const HF_MODEL = fileURLToPath(new URL('../../../../shared/fixtures/hf-reformer/tiny-lsh-causal/model.safetensors', import.meta.url));

/** A file from a header written by hand (text, padded with spaces to a multiple of 8) and data bytes. */
function fileFromText(json: string, data: Uint8Array | number[]): Uint8Array {
  let text = json;
  while (text.length % 8 !== 0) text += ' ';
  const h = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function headerLength(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
}

/** The spaces at the end of the header (the padding a prefix shrink lands in). */
function paddingOf(bytes: Uint8Array): number {
  let n = 0;
  for (let i = 8 + headerLength(bytes) - 1; bytes[i] === 0x20; i--) n++;
  return n;
}

function withPrefix(bytes: Uint8Array, headerLen: number): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setUint32(0, headerLen, true);
  return out;
}

function expectSafetensorsError(fn: () => unknown, ...patterns: RegExp[]): SafetensorsError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  if (!(caught instanceof SafetensorsError)) {
    throw new Error(`expected a SafetensorsError, got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`);
  }
  expect(caught.name).toBe('SafetensorsError');
  for (const p of patterns) expect(caught.message).toMatch(p);
  return caught;
}

/** Our own checkpoint-like file, with at least 6 bytes of header padding. */
function ownFile(): Uint8Array {
  for (let extra = 0; ; extra++) {
    const bytes = serializeSafetensors(
      {
        'embeddings.weight': { dtype: 'float32', shape: [4, 3], values: Float32Array.from({ length: 12 }, (_, i) => i / 7 - 0.5) },
        'layers.0.bias': { dtype: 'float32', shape: [3], values: Float32Array.of(1.5, -2, 3.25) },
        step: { dtype: 'int32', shape: [], values: Int32Array.of(17) },
      },
      { format: 'pt', note: 'x'.repeat(extra) },
    );
    if (paddingOf(bytes) >= 6) return bytes;
  }
}

const F32_4 = [0, 0, 0x80, 0x3f]; // 1.0f

describe('safetensors: the data section is covered exactly', () => {
  it('a header-length prefix shrunk into the space padding is rejected (own file, 1..6 bytes)', () => {
    const bytes = ownFile();
    const n = headerLength(bytes);
    expect(parseSafetensors(bytes).tensors.size).toBe(3);
    for (let k = 1; k <= 6; k++) {
      expectSafetensorsError(() => parseSafetensors(withPrefix(bytes, n - k)), /after the end of the last tensor/, /length prefix/);
    }
  });

  it('a header-length prefix shrunk into the space padding is rejected (Hugging Face file)', () => {
    const bytes = new Uint8Array(readFileSync(HF_MODEL));
    const pad = paddingOf(bytes);
    expect(pad).toBeGreaterThan(0);
    for (let k = 1; k <= pad; k++) {
      expectSafetensorsError(() => parseSafetensors(withPrefix(bytes, headerLength(bytes) - k)), /after the end of the last tensor/);
    }
  });

  it('a gap between two tensors is rejected, naming the bytes and both tensors', () => {
    const json = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}';
    expectSafetensorsError(() => parseSafetensors(fileFromText(json, [...F32_4, 0, 0, 0, 0, ...F32_4])), /\[4, 8\)/, /gap/, /"a"/, /"b"/);
  });

  it('a gap before the first tensor is rejected', () => {
    const json = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
    expectSafetensorsError(() => parseSafetensors(fileFromText(json, [0, 0, 0, 0, ...F32_4])), /gap before "a"/);
  });

  it('trailing bytes after the last tensor are rejected', () => {
    const json = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    expectSafetensorsError(() => parseSafetensors(fileFromText(json, [...F32_4, 0, 0])), /2 byte\(s\) after the end/);
  });

  it('tensors in any header order, and zero-size tensors at a boundary, are accepted', () => {
    const json =
      '{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[8,8]},' +
      '"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    const parsed = parseSafetensors(fileFromText(json, [...F32_4, 0, 0, 0, 0x40]));
    expect([...parsed.tensors.keys()]).toEqual(['b', 'e', 'a']);
    expect(Array.from(parsed.tensors.get('a')!.values)).toEqual([1]);
    expect(Array.from(parsed.tensors.get('b')!.values)).toEqual([2]);
  });
});

describe('safetensors: header JSON', () => {
  it('a duplicate tensor name is rejected instead of keeping the last', () => {
    const json = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    expectSafetensorsError(() => parseSafetensors(fileFromText(json, F32_4)), /"a" twice/);
  });

  it('a duplicate written with an escape, a duplicate field of an entry and of __metadata__ are rejected', () => {
    const dupEscaped = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"\\u0061":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    expectSafetensorsError(() => parseSafetensors(fileFromText(dupEscaped, F32_4)), /"a" twice/);
    const dupField = '{"a":{"dtype":"I32","shape":[1],"dtype":"F32","data_offsets":[0,4]}}';
    expectSafetensorsError(() => parseSafetensors(fileFromText(dupField, F32_4)), /entry "a" has the key "dtype" twice/);
    const dupMeta = '{"__metadata__":{"k":"1","k":"2"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    expectSafetensorsError(() => parseSafetensors(fileFromText(dupMeta, F32_4)), /"__metadata__" has the key "k" twice/);
  });

  it('equal keys in different objects are fine', () => {
    const json =
      '{"__metadata__":{"dtype":"x"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}';
    expect(parseSafetensors(fileFromText(json, F32_4)).tensors.size).toBe(2);
  });

  for (const depth of [SAFETENSORS_MAX_HEADER_DEPTH + 1, 5_000, 200_000]) {
    it(`${depth} nested arrays are rejected with a SafetensorsError (no stack overflow)`, () => {
      const nested = `${'['.repeat(depth)}${']'.repeat(depth)}`;
      expectSafetensorsError(
        () => parseSafetensors(fileFromText(nested, [])),
        /nests/,
        new RegExp(`${SAFETENSORS_MAX_HEADER_DEPTH} levels`),
      );
      const inShape = `{"a":{"dtype":"F32","shape":${nested},"data_offsets":[0,4]}}`;
      expectSafetensorsError(() => parseSafetensors(fileFromText(inShape, F32_4)), /nests/);
      // Unclosed brackets too.
      expectSafetensorsError(() => parseSafetensors(fileFromText('['.repeat(depth), [])), /nests/);
    });
  }

  it('nesting within the limit still gets the specific message (shape with a nested array)', () => {
    const json = '{"a":{"dtype":"F32","shape":[[[[1]]]],"data_offsets":[0,4]}}';
    expectSafetensorsError(() => parseSafetensors(fileFromText(json, F32_4)), /"shape" is \[\[\[\[1\]\]\]\]/);
  });

  it('a header with leading whitespace is rejected', () => {
    const json = ' {"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    expectSafetensorsError(() => parseSafetensors(fileFromText(json, F32_4)), /starts with/);
  });
});

describe('safetensors: errors name the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reformer-st-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('parseSafetensors with a source, and readSafetensorsFile, start the message with it', async () => {
    const bytes = ownFile();
    const bad = withPrefix(bytes, headerLength(bytes) - 2);
    const err = expectSafetensorsError(
      () => parseSafetensors(bad, { source: 'weights/model.safetensors' }),
      /^weights\/model\.safetensors: safetensors: /,
    );
    expect(err.cause).toBeInstanceOf(SafetensorsError);

    const path = join(dir, 'model.safetensors');
    writeFileSync(path, bad);
    const rejected = await readSafetensorsFile(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(rejected).toBeInstanceOf(SafetensorsError);
    expect((rejected as Error).message.startsWith(`${path}: safetensors: `)).toBe(true);
    expect((rejected as Error).message).toMatch(/after the end of the last tensor/);

    writeFileSync(path, bytes);
    expect((await readSafetensorsFile(path)).tensors.get('step')!.values).toEqual(Int32Array.of(17));
  });
});
