/**
 * The restricted PyTorch checkpoint reader against files written by PyTorch itself
 * (`test/fixtures/pytorch/make.py`, Debian's python3-torch): both formats and pickle protocols 2 and 5
 * give bit-identical tensors to the safetensors twin written by hand in that script; malicious pickles
 * are named errors and run nothing; bad files are named errors.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CheckpointFormatError, PickleSecurityError } from '../src/errors.js';
import { parsePyTorchCheckpoint, parseSafetensors, pytorchCheckpointFormat, type HostTensor } from '../src/io/index.js';
import { readPyTorchFile } from '../src/node/index.js';

const DIR = new URL('./fixtures/pytorch/', import.meta.url);
const read = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, DIR)));
/** The file the malicious pickles' `os.system` command creates (make.py checks it does under torch.load). */
const MARKER = '/tmp/reformer-pytorch-fixture-pwned';

/** The raw 32-bit patterns of a tensor's values (so NaN, -0 and infinities compare exactly). */
function bits(t: HostTensor): number[] {
  return Array.from(new Uint32Array(t.values.buffer, t.values.byteOffset, t.values.length));
}

function expectThrows(fn: () => unknown, type: new (...a: never[]) => Error, pattern: RegExp): Error {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(type);
  expect((caught as Error).message).toMatch(pattern);
  return caught as Error;
}

/** Offset of the central directory, read independently of the reader (plain zip, no ZIP64). */
function centralDirectory(bytes: Uint8Array): { at: number; count: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const eocd = bytes.byteLength - 22;
  expect(dv.getUint32(eocd, true)).toBe(0x06054b50);
  return { at: dv.getUint32(eocd + 16, true), count: dv.getUint16(eocd + 10, true) };
}

describe('parsePyTorchCheckpoint on files written by torch.save', () => {
  const twin = parseSafetensors(read('state_dict.safetensors'));

  it.each(['state_dict.pt', 'state_dict_legacy.pt', 'state_dict_protocol5.pt'])('%s equals its safetensors twin bit for bit', (file) => {
    const got = parsePyTorchCheckpoint(read(file));
    expect([...got.tensors.keys()]).toEqual([...twin.tensors.keys()]);
    expect(got.tensors.size).toBe(11);
    for (const [name, want] of twin.tensors) {
      const t = got.tensors.get(name)!;
      expect(t.dtype, name).toBe(want.dtype);
      expect(t.shape, name).toEqual(want.shape);
      expect(t.values.constructor, name).toBe(want.values.constructor);
      expect(bits(t), name).toEqual(bits(want));
    }
  });

  it('honours views: a transpose and an offset slice are copies in row-major order of the right elements', () => {
    const { tensors } = parsePyTorchCheckpoint(read('state_dict.pt'));
    const w = tensors.get('linear.weight')!;
    const t = tensors.get('transposed')!;
    expect(t.shape).toEqual([4, 3]);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 3; j++) expect(t.values[i * 3 + j]).toBe(w.values[j * 4 + i]);
    // The transpose shares linear.weight's storage in the file; the results must not alias.
    expect(t.values.buffer).not.toBe(w.values.buffer);
    expect(
      tensors
        .get('expanded')!
        .values.slice(0, 4)
        .every((v, _, a) => v === a[0]),
    ).toBe(true);
  });

  it('reads float16 specials (-0, subnormal, max, ±inf, NaN) exactly', () => {
    const h = parsePyTorchCheckpoint(read('state_dict_legacy.pt')).tensors.get('half')!;
    const v = Array.from(h.values);
    expect(Object.is(v[1], -0)).toBe(true);
    expect(v[2]).toBe(2 ** -24);
    expect(v[3]).toBe(65504);
    expect(v.slice(4, 6)).toEqual([Infinity, -Infinity]);
    expect(Number.isNaN(v[6])).toBe(true);
  });

  it('tells the formats apart by their first bytes', () => {
    expect(pytorchCheckpointFormat(read('state_dict.pt'))).toBe('zip');
    expect(pytorchCheckpointFormat(read('state_dict_legacy.pt'))).toBe('legacy');
    expect(pytorchCheckpointFormat(read('state_dict.safetensors'))).toBeNull();
    expectThrows(
      () => parsePyTorchCheckpoint(read('state_dict.safetensors')),
      CheckpointFormatError,
      /neither a zip archive .* nor a legacy PyTorch pickle/,
    );
  });

  it('accepts an ArrayBuffer and a Uint8Array at a byte offset', () => {
    const bytes = read('state_dict.pt');
    const shifted = new Uint8Array(bytes.byteLength + 3);
    shifted.set(bytes, 3);
    const a = parsePyTorchCheckpoint(bytes.slice().buffer);
    const b = parsePyTorchCheckpoint(shifted.subarray(3));
    expect(bits(a.tensors.get('linear.weight')!)).toEqual(bits(b.tensors.get('linear.weight')!));
  });
});

describe('malicious pickles', () => {
  it.each(['malicious.pt', 'malicious_legacy.pt'])('%s: PickleSecurityError naming posix.system, and its command never runs', (file) => {
    rmSync(MARKER, { force: true });
    const e = expectThrows(
      () => parsePyTorchCheckpoint(read(file)),
      PickleSecurityError,
      /posix\.system.*not on the allow-list.*Nothing was executed/,
    );
    expect(e).toBeInstanceOf(CheckpointFormatError);
    expect(existsSync(MARKER)).toBe(false);
  });

  it('names a global in a hand-written protocol-4 pickle (STACK_GLOBAL builtins.eval) and calls nothing', () => {
    // A zip checkpoint whose data.pkl is replaced: PROTO 4, SHORT_BINUNICODE 'builtins', 'eval', STACK_GLOBAL,
    // SHORT_BINUNICODE '1', TUPLE1, REDUCE, STOP. The archive is rebuilt by hand below.
    const enc = (s: string): number[] => [0x8c, s.length, ...new TextEncoder().encode(s)];
    const pkl = new Uint8Array([0x80, 4, ...enc('builtins'), ...enc('eval'), 0x93, ...enc('1'), 0x85, 0x52, 0x2e]);
    expectThrows(() => parsePyTorchCheckpoint(storedZip({ 'archive/data.pkl': pkl })), PickleSecurityError, /builtins\.eval/);
  });

  it('refuses calling something that is not an allowed function (REDUCE of a storage class)', () => {
    const g = (m: string, n: string): number[] => [0x63, ...new TextEncoder().encode(`${m}\n${n}\n`)];
    const pkl = new Uint8Array([0x80, 2, ...g('torch', 'FloatStorage'), 0x29, 0x52, 0x2e]);
    expectThrows(
      () => parsePyTorchCheckpoint(storedZip({ 'archive/data.pkl': pkl })),
      CheckpointFormatError,
      /REDUCE of something that is not an allowed callable/,
    );
  });
});

describe('hostile pickles are bounded', () => {
  const g = (m: string, n: string): number[] => [0x63, ...new TextEncoder().encode(`${m}\n${n}\n`)];
  const u32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  const str = (s: string): number[] => [0x58, ...u32(s.length), ...new TextEncoder().encode(s)];

  it('a huge integer (LONG4 of 1 MB) is refused at once', () => {
    const head = [0x80, 2, 0x8b, ...u32(1 << 20)];
    const pkl = new Uint8Array(head.length + (1 << 20) + 1);
    pkl.set(head);
    pkl[pkl.length - 1] = 0x2e;
    expectThrows(
      () => parsePyTorchCheckpoint(storedZip({ 'archive/data.pkl': pkl })),
      CheckpointFormatError,
      /an integer of 1048576 bytes/,
    );
  });

  it('a stride-0 view asking for 2^28 elements of a 4-element storage is refused before allocating', () => {
    // {'x': _rebuild_tensor_v2(persistent('storage', FloatStorage, '0', 'cpu', 4), 0, (2^14, 2^14), (0, 0), False, OrderedDict())}
    const int = (v: number): number[] => [0x4a, ...u32(v)];
    const pkl = new Uint8Array([
      0x80,
      2,
      0x7d,
      ...str('x'),
      ...g('torch._utils', '_rebuild_tensor_v2'),
      0x28,
      0x28,
      ...str('storage'),
      ...g('torch', 'FloatStorage'),
      ...str('0'),
      ...str('cpu'),
      ...int(4),
      0x74,
      0x51,
      ...int(0),
      ...int(1 << 14),
      ...int(1 << 14),
      0x86,
      ...int(0),
      ...int(0),
      0x86,
      0x89,
      ...g('collections', 'OrderedDict'),
      0x29,
      0x52,
      0x74,
      0x52,
      0x73,
      0x2e,
    ]);
    const zip = storedZip({ 'archive/data.pkl': pkl, 'archive/data/0': new Uint8Array(16) });
    expectThrows(
      () => parsePyTorchCheckpoint(zip),
      CheckpointFormatError,
      /tensor "x": shape \[16384, 16384\] has 268435456 elements over a storage of 4/,
    );
    // The same pickle with a 4 x 4 view loads: the bound is what is refused, not the layout.
    const small = pkl.slice();
    const view = new DataView(small.buffer);
    for (let i = 0; i + 5 <= small.length; i++)
      if (small[i] === 0x4a && view.getInt32(i + 1, true) === 1 << 14) view.setInt32(i + 1, 4, true);
    const t = parsePyTorchCheckpoint(storedZip({ 'archive/data.pkl': small, 'archive/data/0': new Uint8Array(16) })).tensors.get('x')!;
    expect(t.shape).toEqual([4, 4]);
  });
});

describe('files that are not state dicts, or are damaged', () => {
  it('a training checkpoint (int and nested dict entries) names the entry and what to do', () => {
    expectThrows(
      () => parsePyTorchCheckpoint(read('training_checkpoint.pt')),
      CheckpointFormatError,
      /entry "epoch" is a number, not a tensor.*state dict/,
    );
  });

  it('an int64 value outside int32 is named', () => {
    expectThrows(
      () => parsePyTorchCheckpoint(read('big_int.pt')),
      CheckpointFormatError,
      /tensor "ids": element 1 is 1099511627776, which does not fit in int32/,
    );
  });

  it('every truncation of both formats is a CheckpointFormatError', () => {
    for (const file of ['state_dict.pt', 'state_dict_legacy.pt']) {
      const bytes = read(file);
      for (let n = 0; n < bytes.byteLength; n++) {
        let caught: unknown;
        try {
          parsePyTorchCheckpoint(bytes.subarray(0, n));
        } catch (e) {
          caught = e;
        }
        expect(caught, `${file} cut to ${n} bytes`).toBeInstanceOf(CheckpointFormatError);
      }
    }
  });

  it('a flipped bit in a storage fails the CRC check, and reads unchecked with verifyChecksums: false', () => {
    const bytes = read('state_dict.pt').slice();
    const data = entryData(bytes, '/data/0');
    bytes[data + 3]! ^= 0x40;
    expectThrows(() => parsePyTorchCheckpoint(bytes), CheckpointFormatError, /data\/0" fails its CRC-32 check/);
    const loose = parsePyTorchCheckpoint(bytes, { verifyChecksums: false });
    expect(loose.tensors.get('linear.weight')!.values[0]).not.toBe(
      parsePyTorchCheckpoint(read('state_dict.pt')).tensors.get('linear.weight')!.values[0],
    );
  });

  it('reads a ZIP64 archive (as PyTorch writes checkpoints over 4 GiB): the same tensors', () => {
    const original = read('state_dict.pt');
    const files: Record<string, Uint8Array> = {};
    const { at, count } = centralDirectory(original);
    const dv = new DataView(original.buffer, original.byteOffset, original.byteLength);
    for (let i = 0, p = at; i < count; i++) {
      const nameLen = dv.getUint16(p + 28, true);
      const name = new TextDecoder().decode(original.subarray(p + 46, p + 46 + nameLen));
      const start = entryData(original, name);
      files[name] = original.slice(start, start + dv.getUint32(p + 24, true));
      p += 46 + nameLen + dv.getUint16(p + 30, true) + dv.getUint16(p + 32, true);
    }
    const want = parsePyTorchCheckpoint(original);
    for (const zip64 of [false, true]) {
      const got = parsePyTorchCheckpoint(storedZip(files, zip64));
      expect([...got.tensors.keys()]).toEqual([...want.tensors.keys()]);
      for (const [name, t] of want.tensors) expect(bits(got.tensors.get(name)!), `${name} (zip64 ${zip64})`).toEqual(bits(t));
    }
    // A ZIP64 end record without its locator is named.
    const broken = storedZip(files, true);
    broken[broken.length - 22 - 20] = 0;
    expectThrows(() => parsePyTorchCheckpoint(broken), CheckpointFormatError, /ZIP64 archive without its ZIP64 locator/);
  });

  it('a compressed entry is named with what to do', () => {
    const bytes = read('state_dict.pt').slice();
    const { at } = centralDirectory(bytes);
    new DataView(bytes.buffer).setUint16(at + 10, 8, true); // method: deflate
    expectThrows(() => parsePyTorchCheckpoint(bytes), CheckpointFormatError, /is compressed \(method 8\).*zip -0/);
  });

  it('a zip without data.pkl is not a checkpoint', () => {
    expectThrows(
      () => parsePyTorchCheckpoint(storedZip({ 'a/b.txt': new Uint8Array([1]) })),
      CheckpointFormatError,
      /no <name>\/data\.pkl entry/,
    );
  });

  it('readPyTorchFile prefixes the path, keeps the class and the cause', async () => {
    const path = fileURLToPath(new URL('malicious.pt', DIR));
    const e = await readPyTorchFile(path).then(
      () => null,
      (err: unknown) => err as Error,
    );
    expect(e).toBeInstanceOf(PickleSecurityError);
    expect(e!.message.startsWith(`${path}: `)).toBe(true);
    expect(e!.cause).toBeInstanceOf(PickleSecurityError);
    const ok = await readPyTorchFile(fileURLToPath(new URL('state_dict.pt', DIR)));
    expect(ok.tensors.size).toBe(11);
    // Node checks CRCs with zlib's crc32: a flipped bit in a storage is still caught.
    const bytes = read('state_dict.pt').slice();
    const dir = mkdtempSync(join(tmpdir(), 'reformer-pt-'));
    try {
      bytes[entryData(bytes, '/data/1') + 1]! ^= 1;
      writeFileSync(join(dir, 'flipped.pt'), bytes);
      await expect(readPyTorchFile(join(dir, 'flipped.pt'))).rejects.toThrow(/data\/1" fails its CRC-32 check/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Where the data of the entry whose name ends with `suffix` starts, read via the central directory. */
function entryData(bytes: Uint8Array, suffix: string): number {
  const { at, count } = centralDirectory(bytes);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = at;
  for (let i = 0; i < count; i++) {
    const nameLen = dv.getUint16(p + 28, true);
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
    if (name.endsWith(suffix)) {
      const local = dv.getUint32(p + 42, true);
      return local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
    }
    p += 46 + nameLen + dv.getUint16(p + 30, true) + dv.getUint16(p + 32, true);
  }
  throw new Error(`no entry ending with ${suffix}`);
}

/** A ZIP archive of stored (uncompressed) entries, written here independently of the reader. */
function storedZip(files: Record<string, Uint8Array>, zip64 = false): Uint8Array {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (d: Uint8Array): number => {
    let c = 0xffffffff;
    for (const b of d) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const locals: number[] = [];
  const central: number[] = [];
  const u16 = (a: number[], v: number): void => void a.push(v & 0xff, (v >>> 8) & 0xff);
  const u32 = (a: number[], v: number): void => void a.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  const u64 = (a: number[], v: number): void => (u32(a, v % 2 ** 32), u32(a, Math.floor(v / 2 ** 32)));
  // ZIP64 (APPNOTE 4.5.3): 32-bit fields hold 0xffffffff and the values move to a 0x0001 extra field.
  const FULL = 0xffffffff;
  let count = 0;
  for (const [name, data] of Object.entries(files)) {
    const n = [...new TextEncoder().encode(name)];
    const offset = locals.length;
    const localExtra: number[] = [];
    const centralExtra: number[] = [];
    if (zip64) {
      u16(localExtra, 1), u16(localExtra, 16), u64(localExtra, data.length), u64(localExtra, data.length);
      u16(centralExtra, 1),
        u16(centralExtra, 24),
        u64(centralExtra, data.length),
        u64(centralExtra, data.length),
        u64(centralExtra, offset);
    }
    const size = zip64 ? FULL : data.length;
    u32(locals, 0x04034b50), u16(locals, zip64 ? 45 : 20), u16(locals, 0), u16(locals, 0), u32(locals, 0), u32(locals, crc(data));
    u32(locals, size), u32(locals, size), u16(locals, n.length), u16(locals, localExtra.length), locals.push(...n, ...localExtra);
    for (const b of data) locals.push(b);
    u32(central, 0x02014b50),
      u16(central, zip64 ? 45 : 20),
      u16(central, zip64 ? 45 : 20),
      u16(central, 0),
      u16(central, 0),
      u32(central, 0);
    u32(central, crc(data)), u32(central, size), u32(central, size), u16(central, n.length);
    u16(central, centralExtra.length),
      u16(central, 0),
      u16(central, 0),
      u16(central, 0),
      u32(central, 0),
      u32(central, zip64 ? FULL : offset);
    central.push(...n, ...centralExtra);
    count++;
  }
  const end: number[] = [];
  if (zip64) {
    const record = locals.length + central.length;
    u32(end, 0x06064b50), u64(end, 44), u16(end, 45), u16(end, 45), u32(end, 0), u32(end, 0);
    u64(end, count), u64(end, count), u64(end, central.length), u64(end, locals.length);
    u32(end, 0x07064b50), u32(end, 0), u64(end, record), u32(end, 1);
  }
  u32(end, 0x06054b50), u16(end, 0), u16(end, 0), u16(end, zip64 ? 0xffff : count), u16(end, zip64 ? 0xffff : count);
  u32(end, zip64 ? FULL : central.length), u32(end, zip64 ? FULL : locals.length), u16(end, 0);
  const out = new Uint8Array(locals.length + central.length + end.length);
  out.set(locals);
  out.set(central, locals.length);
  out.set(end, locals.length + central.length);
  return out;
}
