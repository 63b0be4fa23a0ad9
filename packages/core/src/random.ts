/**
 * The library's one random number generator: Philox4x32-10 (Salmon et al., "Parallel random numbers:
 * as easy as 1, 2, 3", SC 2011), a counter-based generator. Element i of a random tensor depends only
 * on (seed, i), so the same seed gives bit-identical numbers on every backend and in any order.
 */
import { checkInteger } from './validate.js';

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two unsigned 32-bit integers. */
function mulhi(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lo = aLo * bLo;
  const mid1 = aHi * bLo;
  const mid2 = aLo * bHi;
  const carry = ((lo >>> 16) + (mid1 & 0xffff) + (mid2 & 0xffff)) >>> 16;
  return (aHi * bHi + (mid1 >>> 16) + (mid2 >>> 16) + carry) >>> 0;
}

/**
 * One Philox4x32-10 block: four 32-bit outputs for counter (c0, c1, c2, c3) and key (k0, k1),
 * written to `out[0..4)`.
 */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array): void {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = c2 >>> 0;
  let x3 = c3 >>> 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi(M0, x0);
    const lo0 = Math.imul(M0, x0) >>> 0;
    const hi1 = mulhi(M1, x2);
    const lo1 = Math.imul(M1, x2) >>> 0;
    const n0 = (hi1 ^ x1 ^ key0) >>> 0;
    const n2 = (hi0 ^ x3 ^ key1) >>> 0;
    x0 = n0;
    x1 = lo1;
    x2 = n2;
    x3 = lo0;
    key0 = (key0 + W0) >>> 0;
    key1 = (key1 + W1) >>> 0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
}

/** Checks a seed: a safe non-negative integer (up to 2^53). */
export function checkSeed(seed: number, where: string): void {
  checkInteger(where, 'seed', seed, 0);
}

/**
 * `count` uniform 32-bit words for `seed`, starting at word `offset` of its stream. Word i is output
 * (i mod 4) of the Philox block with counter (⌊i/4⌋, stream, 0, 0).
 */
export function randomBits(seed: number, count: number, stream = 0, offset = 0): Uint32Array {
  checkSeed(seed, 'randomBits');
  const k0 = seed >>> 0;
  const k1 = Math.floor(seed / 0x100000000) >>> 0;
  const out = new Uint32Array(count);
  const block = new Uint32Array(4);
  for (let i = 0; i < count; ) {
    const word = offset + i;
    const b = Math.floor(word / 4);
    philox4x32(b >>> 0, stream >>> 0, Math.floor(b / 0x100000000) >>> 0, 0, k0, k1, block);
    for (let j = word % 4; j < 4 && i < count; j++, i++) out[i] = block[j]!;
  }
  return out;
}

/** `count` uniforms in [0, 1) with 24 random bits each (exactly representable in float32). */
export function uniformValues(seed: number, count: number, stream = 0): Float64Array {
  const bits = randomBits(seed, count, stream);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = (bits[i]! >>> 8) * 2 ** -24;
  return out;
}

/** `count` standard normals by Box–Muller over pairs of uniforms (u1 in (0, 1]). */
export function normalValues(seed: number, count: number, stream = 0): Float64Array {
  const pairs = Math.ceil(count / 2);
  const bits = randomBits(seed, pairs * 2, stream);
  const out = new Float64Array(count);
  for (let p = 0; p < pairs; p++) {
    const u1 = ((bits[2 * p]! >>> 8) + 1) * 2 ** -24;
    const u2 = (bits[2 * p + 1]! >>> 8) * 2 ** -24;
    const r = Math.sqrt(-2 * Math.log(u1));
    out[2 * p] = r * Math.cos(2 * Math.PI * u2);
    if (2 * p + 1 < count) out[2 * p + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Seed streams: replayable randomness
// ---------------------------------------------------------------------------------------------

interface SeedScope {
  readonly seed: number;
  counter: number;
}

const scopes: SeedScope[] = [];
let globalSeed = 0x5eed;
let globalCounter = 0;

/** Derives a child seed from (seed, counter) through one Philox block (53 bits). */
export function deriveSeed(seed: number, counter: number): number {
  const bits = new Uint32Array(4);
  philox4x32(
    counter >>> 0,
    Math.floor(counter / 0x100000000) >>> 0,
    0x243f6a88,
    0x85a308d3,
    seed >>> 0,
    Math.floor(seed / 0x100000000) >>> 0,
    bits,
  );
  return (bits[0]! & 0x1fffff) * 0x100000000 + bits[1]!;
}

/**
 * Runs `fn` with a fresh seed stream: every `nextSeed()` inside (dropout masks, random rotations drawn
 * without an explicit seed) comes from `seed` in call order, so running `fn` again with the same seed
 * replays the same randomness. Reversible layers use this to recompute dropout exactly.
 */
export function seedScope<T>(seed: number, fn: () => T): T {
  checkSeed(seed, 'seedScope');
  scopes.push({ seed, counter: 0 });
  try {
    return fn();
  } finally {
    scopes.pop();
  }
}

/** Sets the seed of the global stream used outside any `seedScope`. */
export function setGlobalSeed(seed: number): void {
  checkSeed(seed, 'setGlobalSeed');
  globalSeed = seed;
  globalCounter = 0;
}

/** The next seed of the innermost `seedScope`, or of the global stream outside any scope. */
export function nextSeed(): number {
  const scope = scopes[scopes.length - 1];
  if (scope) return deriveSeed(scope.seed, scope.counter++);
  return deriveSeed(globalSeed, globalCounter++);
}
