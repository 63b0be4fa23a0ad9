/**
 * LSH attention (docs/attention-semantics.md §4, §6), forward and backward, on the core Backend
 * contract only: hashing (matmul, argmax), a stable argsort, gathers, the fused chunked-attention
 * kernel and a logsumexp over rounds. Nothing is read back to the host, so every backend runs it; the
 * backward pass is autograd through gather / chunkedAttention / logSumExp with the sort held constant
 * (hashing runs under `noGrad` and the permutations are int32).
 *
 * @module
 */
import {
  ShapeMismatchError,
  DTypeError,
  add,
  arange,
  argSort,
  broadcastTo,
  cast,
  checkSeed,
  chunkedAttention,
  concat,
  div,
  dispose,
  keep,
  equal,
  exp,
  expandDims,
  floorDiv,
  gather,
  InvalidArgumentError,
  log,
  logSumExp,
  max,
  maximum,
  mean,
  mod,
  mul,
  nextSeed,
  replayable,
  ones,
  pad,
  reshape,
  rsqrt,
  scalar,
  slice,
  square,
  sub,
  sum,
  tidy,
  transpose,
  where,
  zeros,
  type Tensor,
  checkInteger,
  checkPaddingMask,
  formatShape,
} from '@reformer/core';
import {
  bucketFactors,
  checkRotations,
  chooseNumBuckets,
  drawRotations,
  hashRoundsAtOnce,
  hashWithinRound,
  roundOffsets,
  type NumBuckets,
} from './hash.js';
import { checkAttentionTensor, checkBucketValues, checkChunking, checkSameLeading } from './validate.js';
import { LSH_GROUP_BYTES, checkLSHAttentionSizes, lshHeadGroup, type LSHAttentionSizes } from './sizes.js';
import { windowSlotTensor, windowedAttention } from './windowed.js';

/** Options of {@link lshAttention}. */
export interface LSHAttentionOptions {
  /** Slots per chunk of the sorted sequence (Hugging Face `lsh_attn_chunk_length`), integer >= 1. */
  chunkLength: number;
  /** Hash rounds (default 1; with `buckets` given, their round count). Can differ per call. */
  nHashes?: number;
  /**
   * Buckets per round: an even integer, a list of even factors (factorised, mixed radix), or `'auto'`
   * (default): Hugging Face's rule for `num_buckets = None` on the padded length, see
   * {@link chooseNumBuckets}.
   */
  nBuckets?: NumBuckets | 'auto';
  /** Neighbour chunks before each chunk in its window (default 1). */
  chunksBefore?: number;
  /** Neighbour chunks after each chunk in its window (default 0). */
  chunksAfter?: number;
  /** Mask keys at later original positions than the query (default false). */
  causal?: boolean;
  /** Padding mask, int32 `[batch, length]`: 1 = real token, 0 = padding (never attended, own bucket). */
  mask?: Tensor;
  /**
   * Rotations `[heads, dHead, nHashes, nBuckets/2]` (Hugging Face's layout; for factorised buckets one
   * per factor or one of the concatenated size). Drawn from `seed` when omitted.
   */
  rotations?: Tensor | readonly Tensor[];
  /** Seed of the rotations drawn when none are given (default: `nextSeed()` of core's seed stream). */
  seed?: number;
  /**
   * Replay: the `buckets` of an earlier call (int32 `[batch, heads, nHashes, length]`, in the
   * convention that call returned). Hashing is skipped and the same sort is used; pass the same
   * `nBuckets` and `mask` as that call.
   */
  buckets?: Tensor;
  /**
   * The paper's duplicate-attention correction (default false): a key that a query attends to N_ij
   * times over all rounds (and duplicated chunks) has each of its logits lowered by `log N_ij`, so it
   * counts once in the combined output (with `sameBucketOnly` and buckets that fit their windows this
   * is the paper's N_ij, the number of rounds in which i and j share a bucket). Runs an op-based
   * chunked attention that materialises the logits of all chunks at once (linear in length, but
   * about `window · nHashes` times the fused kernel's working set). No effect when
   * `length <= chunkLength`.
   */
  dedupe?: boolean;
  /**
   * Attend only to keys of the query's own bucket (and round) inside the window (default false). A
   * query with no such key attends to itself. No effect when `length <= chunkLength`.
   */
  sameBucketOnly?: boolean;
  /** Hugging Face's `max_position_embeddings`, used by `nBuckets: 'auto'` (default 4096). */
  maxPositionEmbeddings?: number;
  /** Also return the per-round logsumexps and the sort permutation (default false). */
  inspect?: boolean;
  /**
   * Working-set target in bytes (default {@link LSH_GROUP_BYTES}, 64 MiB): the heads are attended in
   * groups whose sorted copies of the sequence stay within it (one head at a time at the least; all
   * heads at once with `dropout`), see {@link lshHeadGroup}, and hashing projects as many rounds at
   * once as keep their scores within it. The results are the same for any value; it bounds the memory
   * of long sequences.
   */
  maxGroupBytes?: number;
  /**
   * Dropout on the attention probabilities (Hugging Face's `lsh_attention_probs_dropout_prob` in
   * training): in every round, after the softmax of the query's window and before the values are
   * weighted, each probability is kept with factor `1/(1 − rate)` or dropped. The per-round
   * logsumexps (hence the round weights `exp(lse_r − logsumexp_r(lse))`) are not affected, as in
   * Hugging Face. The mask is a counter-based hash of (seed, batch, head, round, query position, key
   * position) evaluated inside the fused kernel (core's `attentionDropoutFactor`): identical on every
   * backend, recomputed by the backward, never stored. Not supported with `dedupe`.
   */
  dropout?: { rate: number; seed: number };
}

/** What {@link lshAttention} returns. All tensors belong to the caller. */
export interface LSHAttentionResult {
  /** float32 `[batch, heads, length, dv]`. */
  output: Tensor;
  /**
   * int32 `[batch, heads, nHashes, length]`: the bucket of every position in every round with the
   * round offset added, numbered exactly as Hugging Face's `_hash_vectors`: the offset of round r is
   * `r·nBuckets`, except when `mask` has a 0 anywhere in the batch — then padding positions are put in
   * an extra bucket `nBuckets` and the offset is `r·(nBuckets + 1)` (decided on the device, without
   * reading the mask back). Pass it back as `buckets` (with the same `mask`) to replay
   * the same sort. When `length <= chunkLength` nothing is hashed (Hugging Face's no-hash path) and
   * every entry is 0.
   */
  buckets: Tensor;
  /**
   * With `inspect`: float32 `[batch, heads, nHashes, length]`, the logsumexp of every query's logits in
   * every round (float32-rounded, as the round weights use it); `[batch, heads, 1, length]` when
   * `length <= chunkLength`.
   */
  lse?: Tensor;
  /**
   * With `inspect`: int32 `[batch, heads, nHashes·length]`, the sort permutation: sorted slot j holds
   * round `⌊s/length⌋`, position `s mod length` for `s = sortIndices[j]` (slots are ordered by round,
   * bucket, position). Internal padding slots are left out. `[batch, heads, length]` (identity) when
   * `length <= chunkLength`.
   */
  sortIndices?: Tensor;
}

/**
 * The keys of shared-QK (LSH) attention: the query/key vectors `x` (last axis d) RMS-normalised and
 * divided by √d (docs/attention-semantics.md §4.6), `x · rsqrt(mean(x², −1) + 1e-6) / √d`,
 * computed as `x · (rsqrt(…) / √d)` so that autograd saves only `x` and a per-row factor (not a
 * second full-size tensor). Generation's cached attention calls it too, so both compute the same keys.
 */
export function lshNormalisedKeys(x: Tensor): Tensor {
  const d = x.shape[x.rank - 1]!;
  return tidy(() => mul(x, div(rsqrt(add(mean(square(x), -1, true), scalar(1e-6))), scalar(Math.sqrt(d)))));
}

/**
 * `log N` for every (query slot, window key) of the sorted sequence, float32 `[B, H, nC, c, W]`: N is
 * the number of times the key's position occurs in the windows of the query position's slots over
 * all rounds (counting only same-bucket occurrences with `sameBucketOnly`). Int ops only; constant.
 */
function dedupeLogCounts(args: {
  B: number;
  H: number;
  Lp: number;
  nHashes: number;
  c: number;
  before: number;
  after: number;
  undo: Tensor;
  pos: Tensor;
  within?: Tensor | undefined;
}): Tensor {
  const { B, H, Lp, nHashes: nR, c, before, after, pos } = args;
  const N = nR * Lp;
  const nC = N / c;
  const W = c * (before + 1 + after);
  return tidy(() => {
    const int = (x: number) => scalar(x, 'int32');
    const win = windowSlotTensor(B, H, nC, c, before, after);
    const posK = gather(pos, win, 2); // [B, H, nC·W]
    // loc[b, h, t, r]: the chunk that holds position t in round r.
    const loc = transpose(reshape(floorDiv(args.undo, int(c)), [B, H, nR, Lp]), [0, 1, 3, 2]);
    const qLoc = reshape(gather(loc, pos, 2), [B, H, nC, c, 1, nR]);
    const kLoc = reshape(gather(loc, posK, 2), [B, H, nC, 1, W, nR]);
    // Number of window offsets o in [−before, after] with o ≡ Δ (mod nC), for Δ in [0, nC).
    const offsetsMatching = (delta: Tensor) =>
      maximum(add(add(floorDiv(sub(int(after), delta), int(nC)), floorDiv(add(int(before), delta), int(nC))), int(1)), int(0));
    let count: Tensor;
    if (args.within) {
      // Only same-bucket occurrences count; those are in the query slot's own round.
      const wT = transpose(args.within, [0, 1, 3, 2]); // [B, H, Lp, nR]
      const qB = reshape(gather(wT, pos, 2), [B, H, nC, c, 1, nR]);
      const kB = reshape(gather(wT, posK, 2), [B, H, nC, 1, W, nR]);
      const delta = mod(sub(kLoc, qLoc), int(nC));
      count = sum(mul(offsetsMatching(delta), equal(kB, qB)), -1);
    } else {
      count = zeros([B, H, nC, c, W], 'int32');
      for (let r = 0; r < nR; r++) {
        // One query round at a time; its [B, H, nC, c, W, nR] temporaries are freed before the next.
        const prev = count;
        count = tidy(() => {
          const qr = slice(qLoc, [0, 0, 0, 0, 0, r], [B, H, nC, c, 1, 1]);
          const delta = mod(sub(kLoc, qr), int(nC));
          return add(prev, sum(offsetsMatching(delta), -1));
        });
        prev.dispose();
      }
    }
    return log(cast(maximum(count, int(1)), 'float32'));
  });
}

/**
 * LSH self-attention with shared queries and keys (the Reformer; exactly Hugging Face's
 * `LSHSelfAttention` core, docs/attention-semantics.md §4): hash `qk` into buckets by random
 * rotations, sort every round by (round, bucket, position), cut the sorted slots into chunks of
 * `chunkLength` (running across round boundaries), let each chunk attend to itself and its `chunksBefore`/`chunksAfter` neighbours
 * (circularly), with queries `qk` and keys `qk · rsqrt(mean(qk²) + 1e-6) / √d`, logits replaced by
 * −1e9 where not allowed (causal, padding, other bucket) and −1e5 at the query's own position, then
 * unsort and combine the rounds with weights `exp(lse_r − logsumexp_r(lse))`.
 *
 * `length <= chunkLength`: plain attention over all positions with the same keys and masks, no hashing
 * (Hugging Face). Other lengths are padded internally to a multiple of `chunkLength`; padded and masked
 * positions get their own bucket (last in every round, so real tokens keep their sorted order) and are
 * never attended; outputs at real positions do not depend on them. Outputs at masked positions are
 * computed but meaningless.
 *
 * Gradients flow to `qk` and `v` (through the sorted gathers, the fused kernel, the round weights);
 * the buckets are constants. The backward pass reuses the forward's sort: nothing is re-hashed.
 *
 * @param qk - float32 `[batch, heads, length, dHead]`, the shared query/key vectors.
 * @param v - float32 `[batch, heads, length, dv]`, the values.
 * @param options - see {@link LSHAttentionOptions}.
 * @returns the output `[batch, heads, length, dv]`, the buckets, and with `inspect` the per-round
 *   logsumexps and the sort permutation.
 * @throws {InvalidArgumentError} for `chunkLength` < 1, negative neighbour counts, `nHashes` < 1, an odd
 *   `nBuckets` or factor.
 * @throws {ShapeMismatchError} if `qk`/`v` are not rank 4 with equal batch, heads and length, or
 *   `mask`, `rotations` or `buckets` have the wrong shape.
 * @throws {DTypeError} if `qk`/`v`/`rotations` are not float32 or `mask`/`buckets` not int32.
 * @throws {InvalidArgumentError} also for a `seed` that is not a non-negative safe integer, `mask`
 *   values other than 0 and 1, replayed `buckets` outside their round's range (both read only where
 *   the backend reads synchronously), or bucket ids / sorted slots beyond the int32 range.
 * @throws {AllocationTooLargeError} (from `@reformer/core`) when the rotations, the sorted copies (one
 *   per round) or one chunk of logits would exceed the backend's `maxAllocationBytes`
 *   (see {@link checkLSHAttentionSizes}); nothing is allocated then.
 */
export function lshAttention(qk: Tensor, v: Tensor, options: LSHAttentionOptions): LSHAttentionResult {
  const call = checkLSHCall(qk, v, options);
  if (call.L <= call.c) return shortSequenceAttention(qk, v, options, call);
  const plan = planHashedCall(options, call);
  const rotations = callRotations(call, plan);
  const g = plan.groupHeads;
  try {
    if (g === call.H) return tidy(() => attendHeads(qk, v, call, plan, rotations.of(0, g)));
    return tidy(() => {
      const parts: LSHAttentionResult[] = [];
      for (let h0 = 0; h0 < call.H; h0 += g) {
        const heads = Math.min(g, call.H - h0);
        // Each group's intermediates are freed before the next group starts.
        const group = groupCall(call, h0, heads);
        parts.push(tidy(() => attendHeads(sliceHeads(qk, h0, heads), sliceHeads(v, h0, heads), group, plan, rotations.of(h0, heads))));
      }
      return concatHeads(parts);
    });
  } finally {
    rotations.dispose();
  }
}

/**
 * The rotations of a hashed call, for one group of heads at a time: the given ones, or the ones drawn
 * from the plan's seed — drawn at most once per call, and only when a group hashes (never while a
 * reversible layer's recompute replays the recorded buckets). `of(h0, n)` gives a function that
 * returns heads `[h0, h0 + n)`; `dispose()` frees what was drawn.
 */
function callRotations(call: LSHCall, plan: HashedPlan): { of(h0: number, n: number): () => Tensor[]; dispose(): void } {
  let drawn: Tensor[] | undefined;
  const all = (): Tensor[] => {
    if (plan.given !== undefined) return plan.given;
    drawn ??= drawRotations(call.H, call.d, call.nHashes, plan.factors, plan.seed).map((R) => keep(R));
    return drawn;
  };
  return {
    of: (h0, n) => () => (n === call.H ? all() : all().map((R) => sliceHeads(R, h0, n, 0))),
    dispose: () => {
      if (drawn !== undefined) dispose(drawn);
    },
  };
}

/** Heads `[h0, h0 + heads)` of a tensor whose heads axis is `axis` (1 for `[B, H, …]`). */
function sliceHeads(t: Tensor, h0: number, heads: number, axis = 1): Tensor {
  return slice(
    t,
    t.shape.map((_, i) => (i === axis ? h0 : 0)),
    t.shape.map((n, i) => (i === axis ? heads : n)),
  );
}

/** The call restricted to heads `[h0, h0 + heads)`. */
function groupCall(call: LSHCall, h0: number, heads: number): LSHCall {
  return { ...call, H: heads, replay: call.replay === undefined ? undefined : sliceHeads(call.replay, h0, heads) };
}

/** The results of consecutive head groups joined along the heads axis. */
function concatHeads(parts: readonly LSHAttentionResult[]): LSHAttentionResult {
  const join = (pick: (r: LSHAttentionResult) => Tensor | undefined): Tensor | undefined => {
    const list = parts.map(pick);
    return list[0] === undefined ? undefined : concat(list as Tensor[], 1);
  };
  const result: LSHAttentionResult = { output: join((r) => r.output)!, buckets: join((r) => r.buckets)! };
  const lse = join((r) => r.lse);
  const sortIndices = join((r) => r.sortIndices);
  if (lse !== undefined) result.lse = lse;
  if (sortIndices !== undefined) result.sortIndices = sortIndices;
  return result;
}

/**
 * Steps 2–6 for the heads of `call` (all heads, or one group of them, with `rotations` giving that
 * group's rotations): hash, sort, attend, combine the rounds.
 */
function attendHeads(qk: Tensor, v: Tensor, call: LSHCall, plan: HashedPlan, rotations: () => Tensor[]): LSHAttentionResult {
  const { within, buckets } = bucketsWithinRounds(qk, call, plan, rotations);
  const sort = sortSlots(within, call, plan);
  const { outS, lseS } = attendSorted(qk, v, call, plan, sort);
  const { output, lse } = combineRounds(outS, lseS, call, plan, sort);
  const result: LSHAttentionResult = { output, buckets };
  if (plan.inspect) Object.assign(result, inspection(lse, sort.order, call, plan));
  return result;
}

/** The validated arguments of one `lshAttention` call. */
interface LSHCall {
  readonly fn: string;
  readonly B: number;
  readonly H: number;
  readonly L: number;
  readonly d: number;
  readonly dv: number;
  readonly c: number;
  readonly chunksBefore: number;
  readonly chunksAfter: number;
  readonly causal: boolean;
  readonly mask: Tensor | undefined;
  /** Buckets of an earlier call to reuse instead of hashing. */
  readonly replay: Tensor | undefined;
  readonly nHashes: number;
  readonly nBucketsOpt: NumBuckets | 'auto';
  readonly sizes: Omit<LSHAttentionSizes, 'nBuckets'>;
}

/** Step 0: every argument checked (shapes, chunking, mask, replayed buckets, bucket counts, seed). */
function checkLSHCall(qk: Tensor, v: Tensor, options: LSHAttentionOptions): LSHCall {
  const fn = 'lshAttention';
  const [B, H, L, d] = checkAttentionTensor(fn, 'qk', qk);
  const dv = checkAttentionTensor(fn, 'v', v)[3];
  checkSameLeading(fn, 'v', v, B, H, L, `qk ${formatShape(qk.shape)}`);
  const {
    chunkLength: c,
    chunksBefore,
    chunksAfter,
  } = checkChunking(fn, options.chunkLength, options.chunksBefore ?? 1, options.chunksAfter ?? 0);
  const causal = options.causal ?? false;
  const mask = options.mask;
  checkPaddingMask(fn, mask, B, L);
  const replay = options.buckets;
  if (replay !== undefined) {
    if (replay.dtype !== 'int32') {
      throw new DTypeError(`${fn}: buckets must be the int32 buckets of an earlier call, got ${replay.dtype}; use cast(buckets, 'int32').`);
    }
    if (replay.rank !== 4 || replay.shape[0] !== B || replay.shape[1] !== H || replay.shape[3] !== L) {
      throw new ShapeMismatchError(
        `${fn}: buckets must have shape [batch, heads, nHashes, length] = [${B}, ${H}, nHashes, ${L}], got ${formatShape(replay.shape)}.`,
      );
    }
  }
  const nHashes = checkInteger(fn, 'nHashes', options.nHashes ?? replay?.shape[2] ?? 1, 1);
  if (replay !== undefined && replay.shape[2] !== nHashes) {
    throw new ShapeMismatchError(`${fn}: buckets ${formatShape(replay.shape)} hold ${replay.shape[2]} rounds but nHashes is ${nHashes}.`);
  }
  const nBucketsOpt = options.nBuckets ?? 'auto';
  if (nBucketsOpt !== 'auto') bucketFactors(fn, nBucketsOpt);
  if (options.maxPositionEmbeddings !== undefined) checkInteger(fn, 'maxPositionEmbeddings', options.maxPositionEmbeddings, 1);
  if (options.seed !== undefined) checkSeed(options.seed, fn);
  const sizes = {
    batch: B,
    heads: H,
    length: L,
    dHead: d,
    dValue: dv,
    nHashes,
    chunkLength: c,
    chunksBefore,
    chunksAfter,
    dedupe: options.dedupe ?? false,
    backend: qk.backend,
  };
  return { fn, B, H, L, d, dv, c, chunksBefore, chunksAfter, causal, mask, replay, nHashes, nBucketsOpt, sizes };
}

/** `length <= chunkLength`: Hugging Face's plain attention over every position, no hashing. */
function shortSequenceAttention(qk: Tensor, v: Tensor, options: LSHAttentionOptions, call: LSHCall): LSHAttentionResult {
  const { fn, B, H, L, nHashes, causal, mask } = call;
  checkLSHAttentionSizes(fn, { ...call.sizes, nBuckets: 2 });
  const dropout = checkDropout(fn, options.dropout, false);
  return noHashAttention(qk, v, { B, H, L, nHashes, causal, mask, inspect: options.inspect ?? false, dropout });
}

/** What a hashed call needs besides its arguments: the padded length, the bucket counts, the seed. */
interface HashedPlan {
  /** The length padded to a multiple of the chunk length. */
  readonly Lp: number;
  readonly padded: boolean;
  readonly factors: number[];
  /** Buckets per round (the product of the factors); bucket `nb` is the padding bucket. */
  readonly nb: number;
  /** Round stride of the internal sort key: always room for the padding bucket. */
  readonly sortStride: number;
  /** Rotations given by the caller (and checked), unless the buckets are replayed. */
  readonly given: Tensor[] | undefined;
  readonly dedupe: boolean;
  readonly sameBucketOnly: boolean;
  readonly inspect: boolean;
  readonly dropout: { rate: number; seed: number } | undefined;
  /** Seed of the drawn rotations (0 when none are drawn). */
  readonly seed: number;
  /** Heads attended together ({@link lshHeadGroup}). */
  readonly groupHeads: number;
  /** Rounds hashed per projection matmul ({@link hashRoundsAtOnce}). */
  readonly hashRounds: number;
}

/** Step 1: bucket counts, size checks before any allocation, rotations and the seed. */
function planHashedCall(options: LSHAttentionOptions, call: LSHCall): HashedPlan {
  const { fn, L, c, H, d, nHashes, mask, replay, nBucketsOpt } = call;
  const Lp = Math.ceil(L / c) * c;
  const factors = bucketFactors(fn, nBucketsOpt === 'auto' ? chooseNumBuckets(Lp, c, options.maxPositionEmbeddings ?? 4096) : nBucketsOpt);
  const nb = factors.reduce((p, f) => p * f, 1);
  const dedupe = options.dedupe ?? false;
  const dropout = checkDropout(fn, options.dropout, dedupe);
  const sizes: LSHAttentionSizes = {
    ...call.sizes,
    nBuckets: factors,
    drawsRotations: replay === undefined && options.rotations === undefined,
    dropout: dropout !== undefined,
    ...(options.maxGroupBytes !== undefined ? { maxGroupBytes: options.maxGroupBytes } : {}),
  };
  checkLSHAttentionSizes(fn, sizes);
  if (replay !== undefined) checkBucketValues(fn, replay, nHashes, nb, mask);
  const given =
    options.rotations !== undefined && replay === undefined ? checkRotations(fn, options.rotations, H, d, nHashes, factors) : undefined;
  const groupHeads = lshHeadGroup(sizes);
  // Drawn outside replayable() so the seed stream is the same whether the buckets are hashed or replayed.
  const seed = replay === undefined && given === undefined ? (options.seed ?? nextSeed()) : 0;
  return {
    Lp,
    padded: Lp !== L,
    factors,
    nb,
    // The internal sort key always has room for the padding bucket nb; the returned buckets' round
    // stride is Hugging Face's (see returnedOffsets).
    sortStride: nb + 1,
    given,
    dedupe,
    sameBucketOnly: options.sameBucketOnly ?? false,
    inspect: options.inspect ?? false,
    dropout,
    seed,
    groupHeads,
    // hashing several rounds at once stays within the same working-set target
    hashRounds: hashRoundsAtOnce(
      { batch: call.B, groupHeads, length: L, nHashes, factors },
      call.sizes.backend,
      options.maxGroupBytes ?? LSH_GROUP_BYTES,
    ),
  };
}

/** An int32 scalar. */
const int32 = (x: number): Tensor => scalar(x, 'int32');

/** `t` padded along `axis` from the call's length to `plan.Lp` with `value` (itself when not padded). */
function padLength(t: Tensor, value: number, axis: number, call: LSHCall, plan: HashedPlan): Tensor {
  return plan.padded
    ? pad(
        t,
        t.shape.map((_, i) => (i === axis ? [0, plan.Lp - call.L] : [0, 0]) as [number, number]),
        value,
      )
    : t;
}

/**
 * Step 2: the buckets within each round, `[B, H, nR, L]` with the padding bucket nb at masked
 * positions (hashed, or the replayed ones), and the returned buckets with Hugging Face's round offsets.
 */
function bucketsWithinRounds(qk: Tensor, call: LSHCall, plan: HashedPlan, rotations: () => Tensor[]): { within: Tensor; buckets: Tensor } {
  const { B, L, nHashes, mask, replay } = call;
  const { nb, factors } = plan;
  const offsets = returnedOffsets(nHashes, nb, mask);
  let within: Tensor;
  if (replay !== undefined) {
    within = sub(replay, offsets);
  } else {
    // Replayable state: inside ReplayRecord.replay (a reversible layer's recompute) the buckets of the
    // recorded forward come back instead of being hashed again.
    within = replayable(() => {
      const hashed = hashWithinRound(qk, factors, nHashes, rotations(), plan.hashRounds);
      return mask === undefined ? hashed : where(reshape(mask, [B, 1, 1, L]), hashed, int32(nb));
    });
  }
  return { within, buckets: add(within, offsets) };
}

/** The sort of the slots of every round by (bucket, position). */
interface SlotSort {
  /** The within-round buckets padded to Lp, `[B, H, nR, Lp]`. */
  readonly withinP: Tensor;
  /** The sort key, `[B, H, nR·Lp]`. */
  readonly key: Tensor;
  /** Sorted slot j holds flat slot `order[j]` = r·Lp + t. */
  readonly order: Tensor;
  /** The inverse permutation. */
  readonly undo: Tensor;
  /** The original position of every sorted slot. */
  readonly pos: Tensor;
}

/** Step 3: sort every round by (bucket, position), a stable argsort of the offset buckets. */
function sortSlots(within: Tensor, call: LSHCall, plan: HashedPlan): SlotSort {
  const { B, H, nHashes } = call;
  const { Lp, nb, sortStride } = plan;
  const withinP = padLength(within, nb, 3, call, plan); // [B, H, nR, Lp]
  const key = reshape(add(withinP, roundOffsets(nHashes, sortStride)), [B, H, nHashes * Lp]);
  const order = argSort(key, -1); // sorted slot j holds flat slot r·Lp + t
  const undo = argSort(order, -1); // inverse permutation
  const pos = mod(order, int32(Lp)); // original position of every sorted slot
  return { withinP, key, order, undo, pos };
}

/**
 * Step 4: chunked attention over the sorted slots, the queries, keys (RMS-normalised / √d) and values
 * read by position through the sort (the op's `byPosition`: no sorted copies where the backend reads by
 * position); the dedupe path gathers sorted copies for its op-based attention. Returns the sorted
 * outputs and logsumexps.
 */
function attendSorted(qk: Tensor, v: Tensor, call: LSHCall, plan: HashedPlan, sort: SlotSort): { outS: Tensor; lseS: Tensor } {
  const { B, H, L, c, chunksBefore, chunksAfter, causal, mask, nHashes } = call;
  const { Lp, padded, dropout, dedupe, sameBucketOnly } = plan;
  const { pos, key, order, undo, withinP } = sort;
  // Keys are normalised row by row: normalising the L positions gives every slot's key with nHashes
  // times less work than normalising the slots (a zero padding row normalises to zero either way).
  const rows = [qk, lshNormalisedKeys(qk), v].map((t) => padLength(t, 0, 2, call, plan));
  let keyMask: Tensor | undefined;
  if (mask !== undefined) keyMask = padLength(mask, 0, 1, call, plan);
  else if (padded) keyMask = padLength(ones([B, L], 'int32'), 0, 1, call, plan);
  const sortedBuckets = sameBucketOnly ? gather(key, order, 2) : undefined;

  // Dropout rounds are the blocks of Lp sorted slots (the sort key keeps every round in its block).
  const common = {
    chunkLength: c,
    chunksBefore,
    chunksAfter,
    causal,
    excludeSelf: true,
    scale: 1,
    positions: pos,
    keyMask,
    buckets: sortedBuckets,
    ...(dropout !== undefined ? { dropout: { ...dropout, roundLength: Lp } } : {}),
  };
  let result: { out: Tensor; lse: Tensor };
  if (dedupe) {
    const [qS, kS, vS] = rows.map((t) => gather(t, pos, 2)) as [Tensor, Tensor, Tensor];
    result = windowedAttention(qS, kS, vS, {
      ...common,
      logitOffset: dedupeLogCounts({
        B,
        H,
        Lp,
        nHashes,
        c,
        before: chunksBefore,
        after: chunksAfter,
        undo,
        pos,
        within: sameBucketOnly ? withinP : undefined,
      }),
    });
    // Full-size intermediates go as soon as they are used (a recording tape holds its own handles).
    dispose([qS, kS, vS]);
  } else {
    result = chunkedAttention(rows[0]!, rows[1]!, rows[2]!, { ...common, byPosition: true });
  }
  return { outS: result.out, lseS: result.lse };
}

/**
 * Step 5: unsort and combine the rounds: w_r = exp(lse_r − logsumexp_r(lse)), applied in sorted order
 * (so autograd keeps no second full-size copy of the outputs), then unsorted and summed over rounds.
 * Returns the output cut back to the call's length and the per-round lse `[B, H, nR, Lp]`.
 */
function combineRounds(outS: Tensor, lseS: Tensor, call: LSHCall, plan: HashedPlan, sort: SlotSort): { output: Tensor; lse: Tensor } {
  const { B, H, L, dv, nHashes } = call;
  const { Lp, padded } = plan;
  const { undo, pos } = sort;
  const lse = reshape(gather(lseS, undo, 2), [B, H, nHashes, Lp]);
  let combined: Tensor;
  if (nHashes === 1) {
    combined = gather(outS, undo, 2);
    outS.dispose();
  } else {
    const total = logSumExp(lse, 2); // [B, H, Lp]
    const wS = exp(sub(lseS, gather(total, pos, 2))); // [B, H, nR·Lp], the weight of every sorted slot
    const weighted = mul(outS, expandDims(wS, -1));
    outS.dispose();
    const unsorted = gather(weighted, undo, 2);
    weighted.dispose();
    combined = sum(reshape(unsorted, [B, H, nHashes, Lp, dv]), 2);
    unsorted.dispose();
  }
  const output = padded ? slice(combined, [0, 0, 0, 0], [B, H, L, dv]) : combined;
  return { output, lse };
}

/** Step 6 (`inspect`): the per-round lse and the sort permutation, without the internal padding slots. */
function inspection(lse: Tensor, order: Tensor, call: LSHCall, plan: HashedPlan): Pick<LSHAttentionResult, 'lse' | 'sortIndices'> {
  const { B, H, L, nHashes } = call;
  const { Lp, padded } = plan;
  if (!padded) return { lse, sortIndices: order };
  // Padding slots are the last Lp − L of every round's block; renumber r·Lp + t as r·L + t.
  const real = slice(reshape(order, [B, H, nHashes, Lp]), [0, 0, 0, 0], [B, H, nHashes, L]);
  const renumbered = add(mul(floorDiv(real, int32(Lp)), int32(L)), mod(real, int32(Lp)));
  return { lse: slice(lse, [0, 0, 0, 0], [B, H, nHashes, L]), sortIndices: reshape(renumbered, [B, H, nHashes * L]) };
}

/** Validates the dropout option; undefined when there is none (or rate 0). */
function checkDropout(
  fn: string,
  dropout: { rate: number; seed: number } | undefined,
  dedupe: boolean,
): { rate: number; seed: number } | undefined {
  if (dropout === undefined) return undefined;
  const { rate, seed } = dropout;
  if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) {
    throw new InvalidArgumentError(`${fn}: dropout.rate must be a number in [0, 1), got ${String(rate)}.`);
  }
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new InvalidArgumentError(`${fn}: dropout.seed must be a non-negative safe integer, got ${String(seed)}.`);
  }
  if (rate === 0) return undefined;
  if (dedupe) {
    throw new InvalidArgumentError(`${fn}: dropout is not supported with dedupe (the op-based path); drop one of them.`);
  }
  return { rate, seed };
}

/**
 * The round offsets of the returned buckets, int32 `[nHashes, 1]`: `r·nBuckets`, or `r·(nBuckets + 1)`
 * when `mask` has a 0 anywhere (Hugging Face adds its padding bucket only when
 * `attention_mask.sum() < batch·length`). Computed on the device: no readback of the mask.
 */
function returnedOffsets(nHashes: number, nb: number, mask: Tensor | undefined): Tensor {
  if (mask === undefined) return roundOffsets(nHashes, nb);
  return tidy(() => {
    const anyPadding = max(cast(equal(mask, scalar(0, 'int32')), 'int32')); // 0 or 1
    return mul(roundOffsets(nHashes, 1), add(scalar(nb, 'int32'), anyPadding));
  });
}

/** Hugging Face's path for `length <= chunkLength`: one chunk, every position, no hashing. */
function noHashAttention(
  qk: Tensor,
  v: Tensor,
  o: {
    B: number;
    H: number;
    L: number;
    nHashes: number;
    causal: boolean;
    mask: Tensor | undefined;
    inspect: boolean;
    dropout: { rate: number; seed: number } | undefined;
  },
): LSHAttentionResult {
  const { B, H, L } = o;
  return tidy(() => {
    const { out, lse } = chunkedAttention(qk, lshNormalisedKeys(qk), v, {
      chunkLength: L,
      chunksBefore: 0,
      chunksAfter: 0,
      causal: o.causal,
      excludeSelf: true,
      scale: 1,
      keyMask: o.mask,
      ...(o.dropout !== undefined ? { dropout: o.dropout } : {}),
    });
    const result: LSHAttentionResult = { output: out, buckets: zeros([B, H, o.nHashes, L], 'int32') };
    if (o.inspect) {
      result.lse = reshape(lse, [B, H, 1, L]);
      result.sortIndices = broadcastTo(reshape(arange(L), [1, 1, L]), [B, H, L]);
    }
    return result;
  });
}
