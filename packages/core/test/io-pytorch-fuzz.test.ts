/**
 * Property-based fuzzing of `parsePyTorchCheckpoint` (fast-check, fixed seed and run counts) over the
 * checkpoints torch.save wrote (`fixtures/pytorch/`): byte overwrites, bit flips, truncations,
 * insertions and random tails.
 *
 * The property: a damaged file either throws a `CheckpointFormatError` (never another exception, never
 * a hang), or loads. For the zip format, whose entries carry CRC-32s, a file that loads must give
 * exactly the tensors of the undamaged file (the damage was in bytes that hold no data, such as a
 * local header's name or padding). Truncations must always throw.
 */
import { readFileSync } from 'node:fs';
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CheckpointFormatError } from '../src/errors.js';
import { parsePyTorchCheckpoint, type SafetensorsFile } from '../src/io/index.js';
import { crc32 } from '../src/io/pytorch/crc32.js';

const DIR = new URL('./fixtures/pytorch/', import.meta.url);
const SEED = 20261203;
const RUNS = 400;

interface Mutation {
  label: string;
  bytes: Uint8Array;
  mustFail: boolean;
}

function mutations(original: Uint8Array): fc.Arbitrary<Mutation> {
  const n = original.byteLength;
  const pos = fc.integer({ min: 0, max: n - 1 });
  const edit = (f: (b: Uint8Array) => void): Uint8Array => {
    const b = original.slice();
    f(b);
    return b;
  };
  return fc.oneof(
    fc.tuple(pos, fc.integer({ min: 0, max: 255 })).map(([i, v]) => ({
      label: `byte ${i} := ${v}`,
      bytes: edit((b) => (b[i] = v)),
      mustFail: false,
    })),
    fc.tuple(pos, fc.integer({ min: 0, max: 7 })).map(([i, bit]) => ({
      label: `flip bit ${bit} of byte ${i}`,
      bytes: edit((b) => (b[i]! ^= 1 << bit)),
      mustFail: false,
    })),
    fc.tuple(pos, fc.uint8Array({ minLength: 2, maxLength: 8 })).map(([i, run]) => ({
      label: `bytes ${i}.. := ${[...run].join(',')}`,
      bytes: edit((b) => b.set(run.subarray(0, Math.min(run.length, n - i)), i)),
      mustFail: false,
    })),
    pos.map((i) => ({ label: `truncate to ${i}`, bytes: original.slice(0, i), mustFail: true })),
    fc.tuple(pos, fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([i, ins]) => {
      const b = new Uint8Array(n + ins.length);
      b.set(original.subarray(0, i));
      b.set(ins, i);
      b.set(original.subarray(i), i + ins.length);
      return { label: `insert ${ins.length} bytes at ${i}`, bytes: b, mustFail: false };
    }),
    fc.tuple(pos, fc.uint8Array({ minLength: 0, maxLength: 64 })).map(([i, tail]) => {
      const b = new Uint8Array(i + tail.length);
      b.set(original.subarray(0, i));
      b.set(tail, i);
      return { label: `random tail of ${tail.length} after ${i}`, bytes: b, mustFail: false };
    }),
  );
}

function bitsOf(file: SafetensorsFile): Map<string, { shape: number[]; bits: number[] }> {
  const out = new Map<string, { shape: number[]; bits: number[] }>();
  for (const [k, t] of file.tensors)
    out.set(k, { shape: t.shape, bits: Array.from(new Uint32Array(t.values.buffer, t.values.byteOffset, t.values.length)) });
  return out;
}

describe('parsePyTorchCheckpoint under damage (property-based)', () => {
  it.each([
    ['state_dict.pt', true],
    ['state_dict_protocol5.pt', true],
    ['state_dict_legacy.pt', false],
    ['malicious.pt', true],
  ] as const)('%s: a CheckpointFormatError or a correct load, never anything else', (file, checksummed) => {
    const original = new Uint8Array(readFileSync(new URL(file, DIR)));
    let reference: ReturnType<typeof bitsOf> | null = null;
    try {
      reference = bitsOf(parsePyTorchCheckpoint(original));
    } catch (e) {
      expect(e).toBeInstanceOf(CheckpointFormatError); // malicious.pt
    }
    let loaded = 0;
    let failed = 0;
    fc.assert(
      fc.property(mutations(original), (m) => {
        let result: SafetensorsFile | null = null;
        try {
          result = parsePyTorchCheckpoint(m.bytes);
        } catch (e) {
          if (!(e instanceof CheckpointFormatError)) throw new Error(`${m.label}: ${String(e)}`);
          failed++;
          return;
        }
        loaded++;
        if (m.mustFail) throw new Error(`${m.label}: loaded`);
        if (checksummed) expect(bitsOf(result), m.label).toEqual(reference);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // Both outcomes occur, so the property is not vacuous.
    expect(failed).toBeGreaterThan(0);
    if (file !== 'malicious.pt') expect(loaded).toBeGreaterThan(0);
  });

  it("the portable CRC-32 equals zlib's on random data of every length mod 4", () => {
    const native = (zlib as { crc32?: (d: Uint8Array) => number }).crc32!;
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926); // the standard check value
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        expect(crc32(data)).toBe(native(data) >>> 0);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("random bytes behind either format's magic are a CheckpointFormatError", () => {
    fc.assert(
      fc.property(fc.constantFrom([0x50, 0x4b, 0x03, 0x04], [0x80, 0x02, 0x8a, 0x0a]), fc.uint8Array({ maxLength: 256 }), (magic, rest) => {
        expect(() => parsePyTorchCheckpoint(new Uint8Array([...magic, ...rest]))).toThrow(CheckpointFormatError);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
