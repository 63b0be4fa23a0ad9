/**
 * Deterministic generators of test inputs: a small seeded PRNG of our own (independent of the
 * library's Philox generator, so that a bug there cannot hide one here), random shapes, values that
 * stay away from the kinks of piecewise functions, and the edge shapes every kernel must handle.
 */
import type { DType } from '../types.js';
import { hostTensor, sizeOf, type HostTensor } from './oracles.js';

/** mulberry32: a tiny, good-enough 32-bit generator for test inputs. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A uniform number in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A uniform integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** A uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** A standard normal (Box–Muller). */
  normal(): number {
    const u1 = 1 - this.next();
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
  perm(n: number): number[] {
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = p[i]!;
      p[i] = p[j]!;
      p[j] = t;
    }
    return p;
  }

  /** A random shape of the given rank with every axis in [minDim, maxDim]. */
  shape(rank: number, minDim = 1, maxDim = 5): number[] {
    return Array.from({ length: rank }, () => this.int(minDim, maxDim));
  }
}

/** A stable 32-bit hash of a string (FNV-1a), to give every test its own reproducible seed. */
export function seedOf(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Float32 values uniform in [lo, hi) (rounded to float32, so host and device see the same numbers). */
export function randomFloats(rng: Rng, shape: readonly number[], lo = -1, hi = 1): HostTensor {
  const n = sizeOf(shape);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.fround(rng.uniform(lo, hi));
  return hostTensor(shape, 'float32', data);
}

/** Float32 standard normals times `std`. */
export function randomNormals(rng: Rng, shape: readonly number[], std = 1): HostTensor {
  const n = sizeOf(shape);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.fround(std * rng.normal());
  return hostTensor(shape, 'float32', data);
}

/** Float32 values with `lo <= |x| < hi` and a random sign: away from the kink at 0. */
export function randomAwayFromZero(rng: Rng, shape: readonly number[], lo = 0.1, hi = 2): HostTensor {
  const n = sizeOf(shape);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.fround((rng.chance(0.5) ? -1 : 1) * rng.uniform(lo, hi));
  return hostTensor(shape, 'float32', data);
}

/**
 * Float32 values whose distance to the nearest integer is at least `margin` (and at least `margin`
 * from every half-integer when `halves`), so that floor/ceil/round and their finite differences are
 * unambiguous.
 */
export function randomOffGrid(rng: Rng, shape: readonly number[], range = 4, margin = 0.05, halves = true): HostTensor {
  const n = sizeOf(shape);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (;;) {
      const x = Math.fround(rng.uniform(-range, range));
      const f = x - Math.floor(x);
      const nearInt = Math.min(f, 1 - f) < margin;
      const nearHalf = halves && Math.abs(f - 0.5) < margin;
      if (!nearInt && !nearHalf) {
        data[i] = x;
        break;
      }
    }
  }
  return hostTensor(shape, 'float32', data);
}

/** Integers uniform in [lo, hi] as a tensor of `dtype` (int32 by default). */
export function randomInts(rng: Rng, shape: readonly number[], lo: number, hi: number, dtype: DType = 'int32'): HostTensor {
  const n = sizeOf(shape);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = rng.int(lo, hi);
  return hostTensor(shape, dtype, data);
}

/** Values drawn from a small set (many exact ties: for comparisons, argMax, argSort, max/min). */
export function randomFromSet(rng: Rng, shape: readonly number[], values: readonly number[], dtype: DType = 'float32'): HostTensor {
  const n = sizeOf(shape);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.fround(rng.pick(values));
  return hostTensor(shape, dtype, data);
}

/** A host tensor of the given values (rounded to float32 for float32). */
export function fromValues(shape: readonly number[], values: readonly number[], dtype: DType = 'float32'): HostTensor {
  const data = Float64Array.from(values, (v) => (dtype === 'float32' ? Math.fround(v) : v));
  return hostTensor(shape, dtype, data);
}

/** Edge shapes for element-wise kernels: scalar, size-1 axes, odd lengths, empty. */
export function elementwiseShapes(rng: Rng, full: boolean): number[][] {
  const shapes: number[][] = [[], [1], [7], [17], [65], [1, 1, 1], [3, 1, 4], [2, 3, 4, 5], [0], [3, 0, 2]];
  const randomCount = full ? 8 : 3;
  for (let i = 0; i < randomCount; i++) shapes.push(rng.shape(rng.int(1, 4), 1, full ? 9 : 5));
  if (full) shapes.push([257], [33, 33]);
  return shapes;
}

/** Pairs of broadcast-compatible shapes, including both-sided and rank-mismatched broadcasts. */
export function broadcastPairs(rng: Rng, full: boolean): [number[], number[]][] {
  const pairs: [number[], number[]][] = [
    [
      [3, 4],
      [3, 4],
    ],
    [
      [3, 1],
      [1, 4],
    ],
    [
      [1, 4],
      [3, 1],
    ],
    [[2, 3, 4], [4]],
    [[4], [2, 3, 4]],
    [[], [2, 3]],
    [[2, 3], []],
    [
      [2, 1, 3],
      [4, 1],
    ],
    [
      [5, 1, 1],
      [1, 1, 5],
    ],
    [[1], [7]],
    [
      [0, 3],
      [1, 3],
    ],
    [
      [2, 0],
      [2, 1],
    ],
    [[17], [17]],
  ];
  const randomCount = full ? 8 : 3;
  for (let i = 0; i < randomCount; i++) {
    const rank = rng.int(1, 4);
    const out = rng.shape(rank, 1, full ? 6 : 4);
    const a = out.map((d) => (rng.chance(0.3) ? 1 : d));
    const b = out.map((d) => (rng.chance(0.3) ? 1 : d)).slice(rng.int(0, rank - 1));
    pairs.push(rng.chance(0.5) ? [a, b] : [b, a]);
  }
  return pairs;
}
