/**
 * What one LSH attention call allocates, checked before anything is allocated: the rotations, the
 * hashing projections, the sorted copies of the sequence (one per round), the logits of one chunk,
 * and the range of int32 bucket ids and slot indices. Everything but the rotations is per group of
 * heads ({@link lshHeadGroup}): a long sequence is attended a few heads at a time. The bound is the backend's
 * `maxAllocationBytes` (`checkAllocation` of `@reformer/core`), which users can raise.
 *
 * @module
 */
import { InvalidArgumentError, checkAllocation, checkNumber, getBackend, tensorBytes, type Backend, formatShape } from '@reformer/core';
import { bucketFactors, checkHashSizes, type NumBuckets } from './hash.js';
import { INT32_MAX, checkChunkLogits } from './validate.js';

/** The sizes of one `lshAttention` call (`nBuckets` already resolved, never `'auto'`). */
export interface LSHAttentionSizes {
  batch: number;
  heads: number;
  /** Sequence length (before internal padding to a multiple of `chunkLength`). */
  length: number;
  dHead: number;
  /** Width of the values (default `dHead`). */
  dValue?: number;
  nHashes: number;
  nBuckets: NumBuckets;
  chunkLength: number;
  chunksBefore: number;
  chunksAfter: number;
  /** Whether the call draws its rotations (false when they are given or the buckets replayed). Default true. */
  drawsRotations?: boolean;
  /** The duplicate-attention correction, which materialises all window logits (default false). */
  dedupe?: boolean;
  /**
   * Working-set target of one group of heads, in bytes (default {@link LSH_GROUP_BYTES}): see
   * {@link lshHeadGroup}.
   */
  maxGroupBytes?: number;
  /**
   * Whether the call applies attention dropout (default false). Its mask is keyed by the head's index
   * in the call, so such a call attends all heads at once.
   */
  dropout?: boolean;
  /** The backend that would run the call (default: the current one). */
  backend?: Backend;
}

/** Default working-set target of one group of heads in `lshAttention`: 64 MiB. */
export const LSH_GROUP_BYTES = 64 * 2 ** 20;

/**
 * How many heads `lshAttention` attends together: as many as keep one group's sorted copy of the
 * sequence (`batch · g · nHashes · paddedLength · max(dHead, dValue)` float32, the size of its
 * largest intermediates) within `maxGroupBytes`, at least one; all heads with dropout (whose mask is
 * keyed by the head's index in the call). Every head's output is the same whatever the grouping;
 * grouping bounds the memory of a long sequence, whose whole-call intermediates would be
 * `heads / g` times larger.
 *
 * @param s - the call's sizes.
 * @returns the heads per group, in `[1, heads]`.
 * @throws {InvalidArgumentError} if `maxGroupBytes` is not a positive finite number.
 */
export function lshHeadGroup(s: LSHAttentionSizes): number {
  const budget = checkNumber('lshAttention', 'maxGroupBytes', s.maxGroupBytes ?? LSH_GROUP_BYTES, 0, Infinity, { minInclusive: false });
  if (s.dropout ?? false) return s.heads;
  const Lp = Math.ceil(s.length / s.chunkLength) * s.chunkLength;
  const perHead = tensorBytes([s.batch, s.nHashes * Lp, Math.max(s.dHead, s.dValue ?? s.dHead)]);
  return Math.max(1, Math.min(s.heads, Math.floor(budget / perHead)));
}

/**
 * Checks, before anything is allocated, that one LSH attention call of these sizes fits the allocation
 * bound of `s.backend` (default: the current backend) and that its bucket ids and slot indices fit
 * int32. `lshAttention` runs it on every call; a model runs it once for its layers' settings.
 *
 * @param fn - the caller's name, for the messages.
 * @param s - the call's sizes.
 * @throws {AllocationTooLargeError} (from `@reformer/core`) naming the tensor, the bytes it needs and
 *   what to change (fewer hashes or buckets, a shorter window).
 * @throws {InvalidArgumentError} if `nHashes · (nBuckets + 1)` or the sorted slot count exceeds 2^31 − 1.
 */
export function checkLSHAttentionSizes(fn: string, s: LSHAttentionSizes): void {
  const { batch: B, length: L, dHead: d, nHashes: nR, chunkLength: c } = s;
  const dv = s.dValue ?? d;
  const H = lshHeadGroup(s);
  const backend = s.backend ?? getBackend();
  const fewerHashes = `Use fewer hashes (nHashes is ${nR}): every round sorts its own copy of the sequence`;
  if (L <= c) {
    // Hugging Face's no-hash path: one chunk over the whole sequence, buckets all 0.
    checkAllocation(`${fn}: buckets ${formatShape([B, s.heads, nR, L])}`, tensorBytes([B, s.heads, nR, L]), fewerHashes, backend);
    checkChunkLogits(fn, L, L, `Use a chunkLength below the length ${L}, so the sequence is hashed into chunks`, backend);
    return;
  }
  const factors = bucketFactors(fn, s.nBuckets);
  const nb = factors.reduce((p, f) => p * f, 1);
  const Lp = Math.ceil(L / c) * c;
  // Returned and sorted bucket ids use the round stride nBuckets + 1 (room for the padding bucket).
  checkHashSizes(
    fn,
    {
      batch: B,
      heads: s.heads,
      groupHeads: H,
      length: L,
      dHead: d,
      nHashes: nR,
      factors,
      roundStride: nb + 1,
      drawsRotations: s.drawsRotations ?? true,
    },
    backend,
  );
  if (nR * Lp > INT32_MAX) {
    throw new InvalidArgumentError(
      `${fn}: nHashes · padded length = ${nR} · ${Lp} sorted slots, beyond the int32 range (2^31 − 1). Use fewer hashes or a shorter sequence.`,
    );
  }
  checkAllocation(
    `${fn}: sorted queries ${formatShape([B, H, nR * Lp, Math.max(d, dv)])}`,
    tensorBytes([B, H, nR * Lp, Math.max(d, dv)]),
    fewerHashes,
    backend,
  );
  const W = c * (s.chunksBefore + 1 + s.chunksAfter);
  const shorterWindow = `Use fewer neighbour chunks (chunksBefore ${s.chunksBefore}, chunksAfter ${s.chunksAfter}) or a smaller chunkLength (${c})`;
  checkChunkLogits(fn, c, W, shorterWindow, backend);
  if (s.dedupe ?? false) {
    checkAllocation(
      `${fn}: dedupe's duplicate counts ${formatShape([B, H, nR * Lp, W, nR])}`,
      tensorBytes([B, H, nR * Lp, W, nR]),
      `${shorterWindow}, fewer hashes, or turn dedupe off (it materialises every window's logits)`,
      backend,
    );
  }
}
