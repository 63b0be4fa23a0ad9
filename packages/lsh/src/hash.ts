/**
 * Angular locality-sensitive hashing (docs/attention-semantics.md §4.3): random rotations R,
 * `bucket = argmax([xR; −xR])`, factorised bucket counts as a mixed radix, round offsets, and Hugging
 * Face's `'auto'` bucket count.
 *
 * @module
 */
import {
  InvalidArgumentError,
  ShapeMismatchError,
  add,
  checkAllocation,
  maxAllocationBytes,
  checkSeed,
  getBackend,
  tensorBytes,
  arange,
  concat,
  matmul,
  mul,
  nextSeed,
  noGrad,
  randomNormal,
  reshape,
  scalar,
  signedArgMax,
  slice,
  split,
  tidy,
  transpose,
  type Backend,
  type Tensor,
  checkInteger,
  checkTensorDType,
  formatShape,
} from '@reformer/core';
import { INT32_MAX, checkAttentionTensor } from './validate.js';

/**
 * A bucket count: an even integer, or a list of even factors (factorised buckets, mixed radix: the
 * bucket count is their product and the rotation size their sum).
 */
export type NumBuckets = number | readonly number[];

/** Options of {@link hashVectors}. */
export interface HashVectorsOptions {
  /** Buckets per round: an even integer >= 2, or a list of even factors >= 2 (factorised). */
  nBuckets: NumBuckets;
  /** Hash rounds (integer >= 1). */
  nHashes: number;
  /**
   * The random rotations, `[heads, dHead, nHashes, rotSize/2]` (Hugging Face's layout, shared by the
   * whole batch). For factorised buckets either one tensor per factor `[heads, dHead, nHashes, f_j/2]`
   * or one tensor of the concatenated size `Σ f_j/2` (Hugging Face's single tensor). Drawn from `seed`
   * when omitted.
   */
  rotations?: Tensor | readonly Tensor[];
  /** Seed of the rotations drawn when `rotations` is omitted (default: `nextSeed()` of core's seed stream). */
  seed?: number;
}

/** What {@link hashVectors} returns. */
export interface HashVectorsResult {
  /**
   * int32 `[batch, heads, nHashes, length]`: the bucket of every vector in every round, WITH the round
   * offset `r · nBuckets` added (so buckets of different rounds never coincide), as Hugging Face's
   * `_hash_vectors` returns them.
   */
  buckets: Tensor;
  /**
   * The rotations used: the given ones, or the drawn ones (one tensor for an integer `nBuckets`, one
   * tensor per factor for factorised buckets). The caller owns drawn rotations.
   */
  rotations: Tensor | Tensor[];
}

/**
 * Validates a bucket count and returns its factors (`[nBuckets]` for an integer).
 * @internal
 */
export function bucketFactors(fn: string, nBuckets: NumBuckets): number[] {
  const list = typeof nBuckets === 'number' ? [nBuckets] : [...nBuckets];
  if (list.length === 0) {
    throw new InvalidArgumentError(`${fn}: nBuckets must be an even integer >= 2 or a non-empty list of even factors >= 2, got [].`);
  }
  for (const f of list) {
    if (typeof f !== 'number' || !Number.isInteger(f) || f < 2 || f % 2 !== 0) {
      const what = typeof nBuckets === 'number' ? 'nBuckets' : `every factor of nBuckets ${JSON.stringify(nBuckets)}`;
      throw new InvalidArgumentError(
        `${fn}: ${what} must be an even integer >= 2 (bucket = argmax([xR; −xR]) gives an even count), got ${String(f)}.`,
      );
    }
  }
  return list;
}

/**
 * Hugging Face's `'auto'` bucket count (`ReformerConfig.num_buckets = None`,
 * docs/attention-semantics.md §4.3):
 * `p = bit_length(2·⌊length / chunkLength⌋) − 1`, `nBuckets = 2^p`; if that exceeds
 * `2 · max(⌊√(⌊maxPositionEmbeddings / chunkLength⌋)⌋, chunkLength)` it is factorised as
 * `[2^⌊p/2⌋, 2^(p − ⌊p/2⌋)]`.
 *
 * @param length - the (padded) sequence length; must be > chunkLength (shorter sequences are not hashed).
 * @param chunkLength - the LSH chunk length.
 * @param maxPositionEmbeddings - Hugging Face's `max_position_embeddings` (default 4096, its default).
 * @returns an even integer, or a list of two even factors.
 * @throws {InvalidArgumentError} if an argument is not a positive integer or `length <= chunkLength`.
 */
export function chooseNumBuckets(length: number, chunkLength: number, maxPositionEmbeddings = 4096): number | number[] {
  const fn = 'chooseNumBuckets';
  checkInteger(fn, 'chunkLength', chunkLength, 1);
  checkInteger(fn, 'maxPositionEmbeddings', maxPositionEmbeddings, 1);
  checkInteger(fn, 'length', length, chunkLength + 1);
  const twice = 2 * Math.floor(length / chunkLength);
  const p = twice.toString(2).length - 1; // bit_length − 1
  const nb = 2 ** p;
  const limit = 2 * Math.max(Math.floor(Math.sqrt(Math.floor(maxPositionEmbeddings / chunkLength))), chunkLength);
  if (nb > limit) return [2 ** Math.floor(p / 2), 2 ** (p - Math.floor(p / 2))];
  return nb;
}

/**
 * Checks what hashing allocates before anything is: the drawn rotations `[H, d, nHashes, Σ f/2]`, one
 * round's projections `[B, H, L, Σ f/2]` and scores `[B, H, L, max f]` against the
 * allocation bound of `backend` (default: the current one), and that bucket ids with round offsets
 * (`r · roundStride`) fit int32.
 * @internal
 */
export function checkHashSizes(
  fn: string,
  s: {
    batch: number;
    heads: number;
    /** Heads hashed together (default `heads`): lshAttention hashes one group of heads at a time. */
    groupHeads?: number;
    length: number;
    dHead: number;
    nHashes: number;
    factors: readonly number[];
    roundStride: number;
    drawsRotations: boolean;
  },
  backend: Backend = getBackend(),
): void {
  const { batch: B, heads: H, length: L, dHead: d, nHashes: nR, factors } = s;
  const g = s.groupHeads ?? H;
  const nb = factors.reduce((p, f) => p * f, 1);
  const total = factors.reduce((t, f) => t + f / 2, 0);
  const half = 2 ** Math.floor(Math.log2(nb) / 2);
  const hint =
    `Use fewer buckets (nBuckets ${JSON.stringify(factors.length === 1 ? nb : factors)}) or fewer hashes (nHashes ${nR})` +
    (factors.length === 1 && nb >= 64 && Number.isInteger(nb / half)
      ? `; factorised buckets such as [${half}, ${nb / half}] need far fewer rotation columns`
      : '');
  if (s.drawsRotations)
    checkAllocation(`${fn}: random rotations ${formatShape([H, d, nR, total])}`, tensorBytes([H, d, nR, total]), hint, backend);
  // Hashing projects one round at a time at the least (hashWithinRound): one round's projections and
  // scores. More rounds at once only where they fit the allocation bound (hashRoundsAtOnce).
  checkAllocation(`${fn}: hash projections ${formatShape([B, g, L, total])}`, tensorBytes([B, g, L, total]), hint, backend);
  const widest = Math.max(...factors);
  checkAllocation(`${fn}: hash scores ${formatShape([B, g, L, widest])}`, tensorBytes([B, g, L, widest]), hint, backend);
  if (nR * s.roundStride - 1 > INT32_MAX) {
    throw new InvalidArgumentError(
      `${fn}: bucket ids with round offsets run up to nHashes · ${s.roundStride} − 1 = ${nR * s.roundStride - 1}, beyond the int32 range (2^31 − 1). Use fewer buckets or hashes.`,
    );
  }
}

/** Bytes {@link hashVectors} may hold for several rounds at once: 64 MiB (`lshAttention` uses its `maxGroupBytes`). */
const HASH_ROUNDS_BYTES = 64 * 2 ** 20;

/**
 * Rounds hashed per projection matmul ({@link hashWithinRound}): as many as keep their scores
 * `[B, g, L, rounds, max f]` (the widest of the hashing's per-round tensors) within `budget` bytes
 * (`lshAttention`: its working-set target; default 64 MiB) and the backend's allocation bound, at least one, at most `nHashes`. One matmul for
 * several rounds gives the same buckets with fewer, larger products.
 * @internal
 */
export function hashRoundsAtOnce(
  s: { batch: number; groupHeads: number; length: number; nHashes: number; factors: readonly number[] },
  backend: Backend = getBackend(),
  budget = HASH_ROUNDS_BYTES,
): number {
  const oneRound = tensorBytes([s.batch, s.groupHeads, s.length, Math.max(...s.factors)]);
  const limit = Math.min(budget, maxAllocationBytes(backend));
  return Math.max(1, Math.min(s.nHashes, Math.floor(limit / Math.max(1, oneRound))));
}

/** True for a list of tensors (as opposed to one tensor). @internal */
export function isTensorList(x: Tensor | readonly Tensor[]): x is readonly Tensor[] {
  return Array.isArray(x);
}

/**
 * Validates given rotations against `[H, d, nHashes, Σ f/2]` and returns them as one list (either one
 * concatenated tensor or one per factor).
 * @internal
 */
export function checkRotations(
  fn: string,
  rotations: Tensor | readonly Tensor[],
  H: number,
  d: number,
  nHashes: number,
  factors: readonly number[],
): Tensor[] {
  const total = factors.reduce((s, f) => s + f / 2, 0);
  const list = isTensorList(rotations) ? [...rotations] : [rotations];
  const expectOne = formatShape([H, d, nHashes, total]);
  const expectEach = factors.map((f) => formatShape([H, d, nHashes, f / 2])).join(', ');
  const what =
    factors.length > 1
      ? `one tensor per factor (${expectEach}) or one tensor ${expectOne}`
      : `a tensor ${expectOne} = [heads, dHead, nHashes, nBuckets/2]`;
  const same = (t: Tensor, s: number[]) => t.rank === s.length && t.shape.every((x, i) => x === s[i]);
  for (const t of list) checkTensorDType(fn, 'rotations', t, 'float32');
  if (list.length === 1 && same(list[0]!, [H, d, nHashes, total])) return list;
  if (list.length === factors.length && list.every((t, j) => same(t, [H, d, nHashes, factors[j]! / 2]))) return list;
  throw new ShapeMismatchError(`${fn}: rotations must be ${what}, got ${list.map((t) => formatShape(t.shape)).join(', ')}.`);
}

/**
 * Draws rotations `[H, d, nHashes, Σ f/2]` from `seed` (standard normal, core's Philox generator) and
 * splits them per factor when there are several.
 * @internal
 */
export function drawRotations(H: number, d: number, nHashes: number, factors: readonly number[], seed: number): Tensor[] {
  const total = factors.reduce((s, f) => s + f / 2, 0);
  const all = randomNormal([H, d, nHashes, total], { seed });
  if (factors.length === 1) return [all];
  const parts = split(
    all,
    factors.map((f) => f / 2),
    3,
  );
  all.dispose();
  return parts;
}

/**
 * Buckets WITHOUT round offsets, int32 `[B, H, nHashes, L]`, each in `[0, Π factors)`. Runs under
 * `noGrad` (no gradient flows through hashing). `rotations` as returned by {@link checkRotations}.
 * Projects `roundsAtOnce` rounds per matmul (default 1; see {@link hashRoundsAtOnce}): their projections
 * `[B, H, L, roundsAtOnce · Σ f/2]` are freed before the next rounds are projected. Every bucket is the
 * same for any `roundsAtOnce` (each projection is its own dot product over dHead).
 * @internal
 */
export function hashWithinRound(
  x: Tensor,
  factors: readonly number[],
  nHashes: number,
  rotations: readonly Tensor[],
  roundsAtOnce = 1,
): Tensor {
  const [B, H, L, d] = x.shape as [number, number, number, number];
  const total = factors.reduce((s, f) => s + f / 2, 0);
  const step = Math.max(1, Math.min(nHashes, Math.floor(roundsAtOnce)));
  return noGrad(() =>
    tidy(() => {
      const R = rotations.length === 1 ? rotations[0]! : concat(rotations, 3); // [H, d, nR, total]
      const parts: Tensor[] = [];
      for (let r0 = 0; r0 < nHashes; r0 += step) {
        const n = Math.min(step, nHashes - r0);
        parts.push(
          tidy(() => {
            // rot[b, h, t, r, i] = Σ_e x[b, h, t, e] · R[h, e, r0 + r, i]
            const Rr = n === nHashes ? R : slice(R, [0, 0, r0, 0], [H, d, n, total]);
            const rot = reshape(matmul(x, reshape(Rr, [H, d, n * total])), [B, H, L, n, total]);
            const b = bucketOfProjections(rot, factors); // [B, H, L, n]
            return n === 1 ? reshape(b, [B, H, 1, L]) : transpose(b, [0, 1, 3, 2]);
          }),
        );
      }
      return parts.length === 1 ? parts[0]! : concat(parts, 2);
    }),
  );
}

/**
 * The bucket of every row of projections `[..., Σ f/2]`: per factor `f` (its own `f/2` columns)
 * `argmax([p; −p])` (the first maximum on ties), combined as a mixed radix `b0 + f0·b1 + …`.
 */
function bucketOfProjections(rot: Tensor, factors: readonly number[]): Tensor {
  const lead = rot.shape.slice(0, -1);
  let bucket: Tensor | undefined;
  let offset = 0;
  let radix = 1;
  for (const f of factors) {
    const part = factors.length === 1 ? rot : slice(rot, [...lead.map(() => 0), offset], [...lead, f / 2]);
    const b = signedArgMax(part);
    bucket = bucket === undefined ? b : add(bucket, mul(b, scalar(radix, 'int32')));
    offset += f / 2;
    radix *= f;
  }
  return bucket!;
}

/** `r · stride` for r < nHashes, int32 `[nHashes, 1]` (broadcasts over `[..., nHashes, L]`). @internal */
export function roundOffsets(nHashes: number, stride: number): Tensor {
  return tidy(() => reshape(arange(0, nHashes * stride, stride, 'int32'), [nHashes, 1]));
}

/**
 * Hashes vectors into buckets by random rotations (angular LSH, Andoni et al. 2015, as the Reformer):
 * `rot = x · R[head, :, round, :]`, `bucket = argmax([rot; −rot])` (the first maximum on ties), and for
 * factorised bucket counts `[f0, f1, …]` factor j uses its own `f_j/2` rotation columns and
 * `bucket = b0 + f0·b1 + f0·f1·b2 + …`. Round r's buckets are offset by `r · nBuckets`. No gradient
 * flows through hashing (it runs under `noGrad`). Matches Hugging Face's `_hash_vectors`.
 *
 * @param x - float32 `[batch, heads, length, dHead]`, the vectors to hash (Hugging Face hashes the
 *   un-normalised shared query/key vectors).
 * @param options - bucket count, rounds, and rotations or a seed.
 * @returns the buckets int32 `[batch, heads, nHashes, length]` with round offsets, and the rotations.
 * @throws {InvalidArgumentError} for an odd or non-integer `nBuckets` (or factor), or `nHashes` < 1.
 * @throws {ShapeMismatchError} if `x` is not rank 4 or `rotations` do not have the expected shape.
 * @throws {DTypeError} if `x` or `rotations` are not float32.
 */
export function hashVectors(x: Tensor, options: HashVectorsOptions): HashVectorsResult {
  const fn = 'hashVectors';
  const [, H, , d] = checkAttentionTensor(fn, 'x', x);
  const factors = bucketFactors(fn, options.nBuckets);
  const nHashes = checkInteger(fn, 'nHashes', options.nHashes, 1);
  const nb = factors.reduce((p, f) => p * f, 1);
  if (options.seed !== undefined) checkSeed(options.seed, fn);
  checkHashSizes(
    fn,
    {
      batch: x.shape[0]!,
      heads: H,
      length: x.shape[2]!,
      dHead: d,
      nHashes,
      factors,
      roundStride: nb,
      drawsRotations: options.rotations === undefined,
    },
    x.backend,
  );
  let rotations: Tensor[];
  let drawn = false;
  if (options.rotations !== undefined) {
    rotations = checkRotations(fn, options.rotations, H, d, nHashes, factors);
  } else {
    rotations = drawRotations(H, d, nHashes, factors, options.seed ?? nextSeed());
    drawn = true;
  }
  const [B, , L] = x.shape as [number, number, number];
  const rounds = hashRoundsAtOnce({ batch: B, groupHeads: H, length: L, nHashes, factors }, x.backend);
  const buckets = tidy(() => add(hashWithinRound(x, factors, nHashes, rotations, rounds), roundOffsets(nHashes, nb)));
  const given = options.rotations;
  const outRotations: Tensor | Tensor[] = drawn
    ? rotations.length === 1
      ? rotations[0]!
      : rotations
    : isTensorList(given!)
      ? [...given]
      : given!;
  return { buckets, rotations: outRotations };
}
