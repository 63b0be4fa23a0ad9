/**
 * The attention variants the benchmark compares, all through the public entry points of
 * `@reformer/lsh` and `@reformer/core`, on the same inputs `(qk, v)`:
 *
 * | variant | call | exact reference of its error |
 * | --- | --- | --- |
 * | `full` | `fullAttention(qk, k̂, v, { scale: 1 })` | full attention |
 * | `full-chunked` | the same with `queryChunk` | full attention |
 * | `local` | `localAttention(qk, k̂·√d, v, { chunkLength })` (it divides keys by √d) | full attention |
 * | `lsh-n` | `lshAttention(qk, v, { chunkLength, nHashes: n, nBuckets: 'auto' })` | full attention without self (shared QK) |
 *
 * `k̂` are the unit-length keys LSH attention derives from `qk` (RMS-normalised, divided by √dHead),
 * computed inside the timed call for every variant, so all of them compute `softmax(qk · k̂ᵀ) v` — LSH
 * with the Reformer's rule that a query does not attend to itself.
 *
 * @module
 */
import { add, chunkedAttention, div, mean, mul, rsqrt, scalar, square, tidy, type Tensor } from '@reformer/core';
import { fullAttention, localAttention, lshAttention } from '@reformer/lsh';
import type { VariantName } from './types.js';

/** Which exact attention a variant's output is compared with. */
export type ReferenceKind = 'full' | 'full-excl-self';

/** Per-case settings a variant needs. */
export interface VariantContext {
  length: number;
  chunkLength: number;
  queryChunk: number;
  /** Seed of the LSH rotations (fixed per case so errors are reproducible). */
  seed: number;
}

/** One attention variant. */
export interface Variant {
  name: VariantName;
  /** The exact attention its error is measured against. */
  reference: ReferenceKind;
  /** Quadratic in length (skipped where full attention does not fit). */
  quadratic: boolean;
  /** Runs the variant: `qk`, `v` `[B, H, L, d]` → output `[B, H, L, d]`, differentiable in both. */
  run(qk: Tensor, v: Tensor, ctx: VariantContext): Tensor;
}

/** Unit-length keys from `qk`, as LSH attention makes them: `x · rsqrt(mean(x²) + 1e-6) / √d`. */
export function unitKeys(qk: Tensor): Tensor {
  const d = qk.shape[3]!;
  return tidy(() => mul(qk, div(rsqrt(add(mean(square(qk), -1, true), scalar(1e-6))), scalar(Math.sqrt(d)))));
}

const lsh = (name: VariantName, nHashes: number): Variant => ({
  name,
  reference: 'full-excl-self',
  quadratic: false,
  run: (qk, v, ctx) => tidy(() => lshAttention(qk, v, { chunkLength: ctx.chunkLength, nHashes, nBuckets: 'auto', seed: ctx.seed }).output),
});

/** Every variant, by name. */
export const VARIANTS: Record<VariantName, Variant> = {
  full: {
    name: 'full',
    reference: 'full',
    quadratic: true,
    run: (qk, v) => tidy(() => fullAttention(qk, unitKeys(qk), v, { scale: 1 })),
  },
  'full-chunked': {
    name: 'full-chunked',
    reference: 'full',
    quadratic: true,
    run: (qk, v, ctx) => tidy(() => fullAttention(qk, unitKeys(qk), v, { scale: 1, queryChunk: ctx.queryChunk })),
  },
  local: {
    name: 'local',
    reference: 'full',
    quadratic: false,
    run: (qk, v, ctx) =>
      tidy(() => localAttention(qk, mul(unitKeys(qk), scalar(Math.sqrt(qk.shape[3]!))), v, { chunkLength: ctx.chunkLength })),
  },
  'lsh-1': lsh('lsh-1', 1),
  'lsh-2': lsh('lsh-2', 2),
  'lsh-4': lsh('lsh-4', 4),
  'lsh-8': lsh('lsh-8', 8),
};

/** Hash rounds of an LSH variant name (`lsh-4` → 4), or undefined. */
export function hashesOf(name: string): number | undefined {
  const m = /^lsh-(\d+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * Exact (dense) attention on the fused kernel, one chunk covering the sequence: the reference the
 * error columns compare with. `keys` are the unit keys; with `excludeSelf` a query's own position
 * gets the logit −1e5 (what LSH attention does with shared QK).
 */
export function exactAttention(qk: Tensor, keys: Tensor, v: Tensor, excludeSelf: boolean): Tensor {
  const L = qk.shape[2]!;
  return tidy(() => chunkedAttention(qk, keys, v, { chunkLength: L, chunksBefore: 0, chunksAfter: 0, scale: 1, excludeSelf }).out);
}
