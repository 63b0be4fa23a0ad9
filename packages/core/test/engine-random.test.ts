import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../src/errors.js';
import { dispose } from '../src/engine.js';
import { ones, randomNormal, randomUniform } from '../src/ops/creation.js';
import { dropout } from '../src/ops/fused.js';
import { deriveSeed, nextSeed, normalValues, philox4x32, randomBits, seedScope, setGlobalSeed, uniformValues } from '../src/random.js';

/** An independent Philox4x32-10 over BigInt, straight from the paper's definition. */
function philoxBig(ctr: number[], key: number[]): number[] {
  const M0 = 0xd2511f53n;
  const M1 = 0xcd9e8d57n;
  const W0 = 0x9e3779b9n;
  const W1 = 0xbb67ae85n;
  const mask = 0xffffffffn;
  let [x0, x1, x2, x3] = ctr.map(BigInt) as [bigint, bigint, bigint, bigint];
  let [k0, k1] = key.map(BigInt) as [bigint, bigint];
  for (let r = 0; r < 10; r++) {
    const p0 = M0 * x0;
    const p1 = M1 * x2;
    const y0 = ((p1 >> 32n) ^ x1 ^ k0) & mask;
    const y1 = p1 & mask;
    const y2 = ((p0 >> 32n) ^ x3 ^ k1) & mask;
    const y3 = p0 & mask;
    [x0, x1, x2, x3] = [y0, y1, y2, y3];
    k0 = (k0 + W0) & mask;
    k1 = (k1 + W1) & mask;
  }
  return [x0, x1, x2, x3].map(Number);
}

function block(ctr: number[], key: number[]): number[] {
  const out = new Uint32Array(4);
  philox4x32(ctr[0]!, ctr[1]!, ctr[2]!, ctr[3]!, key[0]!, key[1]!, out);
  return Array.from(out);
}

describe('Philox4x32-10', () => {
  it('matches the Random123 known-answer vectors', () => {
    expect(block([0, 0, 0, 0], [0, 0])).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    expect(block([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff])).toEqual([
      0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd,
    ]);
    expect(block([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])).toEqual([
      0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1,
    ]);
  });

  it('agrees with an independent BigInt implementation on random counters and keys', () => {
    let s = 12345;
    const next = () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s;
    };
    for (let i = 0; i < 200; i++) {
      const ctr = [next(), next(), next(), next()];
      const key = [next(), next()];
      expect(block(ctr, key)).toEqual(philoxBig(ctr, key));
    }
  });

  it('randomBits: word i is output i mod 4 of block (⌊i/4⌋, stream, 0, 0), keyed by the seed', () => {
    const seed = 2 ** 40 + 12345;
    const key = [seed >>> 0, Math.floor(seed / 2 ** 32)];
    const bits = randomBits(seed, 10, 3);
    for (let i = 0; i < 10; i++) expect(bits[i]).toBe(philoxBig([Math.floor(i / 4), 3, 0, 0], key)[i % 4]);
    // Counter-based: an offset window equals the same words of the full stream.
    expect(Array.from(randomBits(seed, 7, 3, 5))).toEqual(Array.from(randomBits(seed, 12, 3)).slice(5));
    expect(Array.from(randomBits(seed, 8, 4))).not.toEqual(Array.from(randomBits(seed, 8, 3)));
  });

  it('uniformValues are 24-bit fractions in [0, 1); normalValues are Box–Muller of the same words', () => {
    const u = uniformValues(9, 1000);
    for (const v of u) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(1);
      expect(Number.isInteger(v * 2 ** 24)).toBe(true);
    }
    const bits = randomBits(9, 4);
    const n = normalValues(9, 3);
    const u1 = ((bits[0]! >>> 8) + 1) * 2 ** -24;
    const u2 = (bits[1]! >>> 8) * 2 ** -24;
    expect(n[0]).toBeCloseTo(Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2), 12);
    expect(n[1]).toBeCloseTo(Math.sqrt(-2 * Math.log(u1)) * Math.sin(2 * Math.PI * u2), 12);
  });
});

describe('seeded random tensors', () => {
  it('same seed → same values, different seeds → different values (also above 2^32)', () => {
    const a = randomNormal([64], { seed: 1 });
    const b = randomNormal([64], { seed: 1 });
    const c = randomNormal([64], { seed: 2 });
    const d = randomNormal([64], { seed: 2 ** 32 + 1 });
    const e = randomUniform([64], { seed: 1 });
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    expect(Array.from(a.dataSync())).not.toEqual(Array.from(c.dataSync()));
    expect(Array.from(a.dataSync())).not.toEqual(Array.from(d.dataSync()));
    expect(Array.from(e.dataSync())).toEqual(Array.from(uniformValues(1, 64), Math.fround));
    dispose([a, b, c, d, e]);
  });

  it('rejects invalid seeds', () => {
    expect(() => randomNormal([2], { seed: -1 })).toThrow(InvalidArgumentError);
    expect(() => randomNormal([2], { seed: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => seedScope(2 ** 60, () => 0)).toThrow(InvalidArgumentError);
  });
});

describe('seed streams', () => {
  it('seedScope replays the same nextSeed sequence', () => {
    const run = () => [nextSeed(), nextSeed(), nextSeed()];
    const a = seedScope(5, run);
    const b = seedScope(5, run);
    const c = seedScope(6, run);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(new Set(a).size).toBe(3);
    expect(a[0]).toBe(deriveSeed(5, 0));
    expect(a[2]).toBe(deriveSeed(5, 2));
    for (const s of a) expect(Number.isSafeInteger(s) && s >= 0).toBe(true);
  });

  it('a nested scope does not disturb the outer sequence', () => {
    const plain = seedScope(5, () => [nextSeed(), nextSeed()]);
    const nested = seedScope(5, () => {
      const first = nextSeed();
      const inner = seedScope(99, () => [nextSeed(), nextSeed()]);
      expect(inner).toEqual(seedScope(99, () => [nextSeed(), nextSeed()]));
      return [first, nextSeed()];
    });
    expect(nested).toEqual(plain);
  });

  it('setGlobalSeed restarts the global stream', () => {
    setGlobalSeed(123);
    const a = [nextSeed(), nextSeed()];
    setGlobalSeed(123);
    const b = [nextSeed(), nextSeed()];
    expect(a).toEqual(b);
    expect(a[0]).toBe(deriveSeed(123, 0));
  });

  it('dropout and random tensors without a seed replay inside a seedScope', () => {
    const x = ones([256]);
    const draw = () => {
      const m = dropout(x, 0.5);
      const r = randomUniform([8]);
      const out = [Array.from(m.dataSync()), Array.from(r.dataSync())];
      dispose([m, r]);
      return out;
    };
    const a = seedScope(42, draw);
    const b = seedScope(42, draw);
    const c = seedScope(43, draw);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    x.dispose();
  });
});
