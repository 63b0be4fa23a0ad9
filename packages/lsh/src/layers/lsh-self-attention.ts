import {
  DTypeError,
  InvalidArgumentError,
  ShapeMismatchError,
  clone,
  formatShape,
  keep,
  nextSeed,
  tidy,
  type Tensor,
  checkInteger,
  isInteger,
} from '@reformer/core';
import { lshAttention } from '../lsh-attention.js';
import { AttentionLayerBase } from './attention-layer-base.js';
import { resolveAttentionConfig, type AttentionForwardOptions, type AttentionLayerConfig } from './config.js';
import { SharedQKProjection, mergeHeads, projectHeads } from './modules.js';

/** Configuration of {@link LSHSelfAttention}: the common options plus the hashing ones. */
export interface LSHSelfAttentionConfig extends AttentionLayerConfig {
  /** Hash rounds (`num_hashes`); default 1. Can be overridden per call (`forward(x, { nHashes })`). */
  nHashes?: number;
  /**
   * Buckets per round (`num_buckets`): an even number; a list of even factors for factorised buckets
   * (mixed radix, `nBuckets = f0·f1·…`); or `'auto'` (the default, Hugging Face's `num_buckets=None`):
   * chosen from the sequence length at each call as Hugging Face does (about `2·length/chunkLength`,
   * factorised when large; it depends on `maxPositionEmbeddings`).
   */
  nBuckets?: number | number[] | 'auto';
  /**
   * Seed of the random rotations (`hash_seed`). When set, every call hashes with the same rotations
   * (as Hugging Face with `hash_seed`); when not, each call draws fresh rotations from `nextSeed()`,
   * which replays under the same `seedScope`.
   */
  hashSeed?: number;
  /** `max_position_embeddings`, used only by `nBuckets: 'auto'`; default 4096 (Hugging Face's default). */
  maxPositionEmbeddings?: number;
}

/** Per-call options of {@link LSHSelfAttention.forward} and {@link LSHSelfAttention.attend}. */
export interface LSHForwardOptions extends AttentionForwardOptions {
  /**
   * The replay hook: int32 buckets `[batch, numHeads, nHashes, length]` of an earlier call (for
   * example {@link LSHSelfAttention.lastBuckets}, or the `buckets` returned by `lshAttention`), used
   * instead of hashing. With the same inputs and weights the output is identical to that call's. A
   * reversible layer recomputing its forward pass in the backward uses this, so that the backward
   * reuses the forward's buckets and never re-hashes. `nHashes` is taken from the buckets' shape.
   */
  buckets?: Tensor;
  /**
   * Explicit rotations for this call instead of drawing them: `[numHeads, headSize, nHashes,
   * nBuckets/2]`, or one tensor per factor for factorised buckets (Hugging Face's layout; for parity
   * tests with recorded rotations). Ignored when `buckets` is given.
   */
  rotations?: Tensor | Tensor[];
}

/** `nBuckets` validation (the functional core checks again at call time). */
function checkBuckets(where: string, nBuckets: unknown): number | number[] | 'auto' {
  const even = (n: unknown): boolean => isInteger(n, 2) && n % 2 === 0;
  if (nBuckets === 'auto') return 'auto';
  if (even(nBuckets)) return nBuckets as number;
  if (Array.isArray(nBuckets) && nBuckets.length > 0 && nBuckets.every(even)) return [...(nBuckets as number[])];
  throw new InvalidArgumentError(
    `${where}: nBuckets must be an even integer ≥ 2, a non-empty list of even integers ≥ 2 (factorised buckets) or 'auto', got ${JSON.stringify(nBuckets)}.`,
  );
}

/**
 * LSH self-attention (Kitaev et al. 2020), with Hugging Face `LSHSelfAttention` semantics and parameter
 * names:
 *
 * 1. `qk = x·query_keyᵀ`, `v = x·valueᵀ`, split into heads `[batch, heads, length, headSize]`
 *    (queries and keys share one projection; keys are the RMS-normalised queries);
 * 2. {@link lshAttention}: hash with random rotations (`nHashes` rounds), sort by (round, bucket,
 *    position), attend within chunks of `chunkLength` plus `chunksBefore`/`chunksAfter` neighbour
 *    chunks (wrapping around), a position never attends to itself unless nothing else is allowed,
 *    rounds combined by their logsumexps;
 * 3. merge the heads, `output.dense`, output dropout.
 *
 * `namedParameters()`: `self_attention.query_key.weight`, `self_attention.value.weight`
 * `[numHeads·headSize, hiddenSize]`, `output.dense.weight` `[hiddenSize, numHeads·headSize]` — Hugging
 * Face's names below `reformer.encoder.layers.{i}.attention.` (whose `layer_norm` belongs to the model).
 *
 * Randomness: each call draws one seed with `nextSeed()` for its rotations (used unless `hashSeed`,
 * `rotations` or `buckets` is given; drawn anyway so that the seed stream, hence the dropout masks,
 * do not depend on which was given); in training with `attentionDropout > 0` a second seed for the
 * attention-probability mask; then the output dropout draws its mask seed. Running a call again
 * inside the same `seedScope` therefore replays it exactly. The buckets of the latest call stay
 * available as {@link LSHSelfAttention.lastBuckets}.
 *
 * Attention-probability dropout (`attentionDropout`, Hugging Face's `lsh_attention_probs_dropout_prob`)
 * runs inside the fused chunked-attention kernel, in Hugging Face's order: within each hash round,
 * softmax, then dropout with scale `1/(1 − p)`, then `· v`; the rounds' logsumexps (their combination
 * weights) are not affected. The mask is a hash of (seed, batch, head, round, query position, key
 * position), recomputed by the backward and by a reversible layer's recompute, never stored. Evaluation
 * mode applies none.
 */
export class LSHSelfAttention extends AttentionLayerBase<SharedQKProjection, LSHForwardOptions> {
  /** Slots per chunk of the sorted sequence. */
  readonly chunkLength: number;
  /** Neighbour chunks before. */
  readonly chunksBefore: number;
  /** Neighbour chunks after. */
  readonly chunksAfter: number;
  /** Default hash rounds per call. */
  readonly nHashes: number;
  #nBuckets: number | number[] | 'auto';
  /** Fixed rotation seed, if any. */
  readonly hashSeed: number | undefined;
  /** Used by `nBuckets: 'auto'`. */
  readonly maxPositionEmbeddings: number;
  #lastBuckets: Tensor | null = null;

  /** Creates the layer and its parameters on the current backend; throws `InvalidArgumentError` on a bad config. */
  constructor(config: LSHSelfAttentionConfig) {
    const where = 'LSHSelfAttention';
    const c = resolveAttentionConfig(where, config);
    const nHashes = checkInteger(where, 'nHashes', config.nHashes ?? 1, 1);
    const nBuckets = checkBuckets(where, config.nBuckets ?? 'auto');
    const hashSeed = config.hashSeed === undefined ? undefined : checkInteger(where, 'hashSeed', config.hashSeed, 0);
    const maxPositionEmbeddings = checkInteger(where, 'maxPositionEmbeddings', config.maxPositionEmbeddings ?? 4096, 1);
    super(where, c, SharedQKProjection);
    this.chunkLength = c.chunkLength;
    this.chunksBefore = c.chunksBefore;
    this.chunksAfter = c.chunksAfter;
    this.nHashes = nHashes;
    this.#nBuckets = nBuckets;
    this.hashSeed = hashSeed;
    this.maxPositionEmbeddings = maxPositionEmbeddings;
  }

  /** Buckets per round (or factors, or `'auto'`: chosen from each call's length until {@link fixNumBuckets}). */
  get nBuckets(): number | number[] | 'auto' {
    return this.#nBuckets;
  }

  /**
   * Fixes an `'auto'` bucket count for every later call, as Hugging Face does on a layer's first hashed
   * call (`_set_num_buckets`): generation needs one bucket count for the whole sequence it grows.
   * Throws `InvalidArgumentError` when the count is already fixed to another value, or is not valid.
   */
  fixNumBuckets(nBuckets: number | number[]): void {
    const where = 'LSHSelfAttention.fixNumBuckets';
    const checked = checkBuckets(where, nBuckets);
    if (checked === 'auto') throw new InvalidArgumentError(`${where}: expected a bucket count, got 'auto'.`);
    if (this.#nBuckets !== 'auto' && JSON.stringify(this.#nBuckets) !== JSON.stringify(checked)) {
      throw new InvalidArgumentError(`${where}: the bucket count is already fixed to ${JSON.stringify(this.#nBuckets)}.`);
    }
    this.#nBuckets = checked;
  }

  /**
   * The buckets of the latest `forward`/`attend` call, int32 `[batch, numHeads, nHashes, length]`
   * (including the round offsets `round · nBuckets`), or null before the first call. The layer owns
   * this tensor: it is disposed when the next call replaces it and by `dispose()`; pass it back as
   * `options.buckets` to replay the call (before the next call), or `clone` it to keep it longer.
   */
  get lastBuckets(): Tensor | null {
    return this.#lastBuckets;
  }

  /**
   * The attention output before `output.dense`: merged heads `[batch, length, numHeads·headSize]`
   * (Hugging Face's inner `LSHSelfAttention` module's `hidden_states`). Validates its inputs and throws
   * named errors: `ShapeMismatchError` (hidden states not `[batch, length, hiddenSize]`, mask or buckets
   * of the wrong shape), `DTypeError` (mask or buckets not int32), `InvalidArgumentError` (bad
   * `nHashes`).
   */
  override attend(hidden: Tensor, options: LSHForwardOptions = {}): Tensor {
    const where = 'LSHSelfAttention.forward';
    const [batch, length] = this.checkInputs(hidden, options.mask);
    let nHashes = options.nHashes === undefined ? undefined : checkInteger(where, 'options.nHashes', options.nHashes, 1);
    const replay = options.buckets;
    if (replay !== undefined) {
      if (replay.dtype !== 'int32') {
        throw new DTypeError(`${where}: options.buckets must be int32 [batch, numHeads, nHashes, length], got ${replay.dtype}.`);
      }
      if (replay.rank !== 4 || replay.shape[0] !== batch || replay.shape[1] !== this.numHeads || replay.shape[3] !== length) {
        throw new ShapeMismatchError(
          `${where}: options.buckets must be [batch, numHeads, nHashes, length] = [${batch}, ${this.numHeads}, nHashes, ${length}], got ${formatShape(replay.shape)}.`,
        );
      }
      const replayHashes = replay.shape[2]!;
      if (nHashes !== undefined && nHashes !== replayHashes) {
        throw new InvalidArgumentError(
          `${where}: options.nHashes = ${nHashes} disagrees with options.buckets ${formatShape(replay.shape)}, which hold ${replayHashes} rounds.`,
        );
      }
      nHashes = replayHashes;
    }
    nHashes ??= this.nHashes;
    // Always drawn, so that the rest of the seed stream does not depend on how the buckets were obtained.
    const drawnSeed = nextSeed();
    const dropout = this.training && this.attentionDropout > 0 ? { rate: this.attentionDropout, seed: nextSeed() } : undefined;
    const hashing =
      replay !== undefined
        ? { buckets: replay }
        : options.rotations !== undefined
          ? { rotations: options.rotations }
          : { seed: this.hashSeed ?? drawnSeed };
    return tidy(() => {
      const qk = projectHeads(this.self_attention.query_key, hidden, this.numHeads, this.headSize);
      const v = projectHeads(this.self_attention.value, hidden, this.numHeads, this.headSize);
      const result = lshAttention(qk, v, {
        chunkLength: this.chunkLength,
        chunksBefore: this.chunksBefore,
        chunksAfter: this.chunksAfter,
        causal: this.causal,
        nHashes,
        nBuckets: this.nBuckets,
        maxPositionEmbeddings: this.maxPositionEmbeddings,
        ...(options.mask !== undefined ? { mask: options.mask } : {}),
        ...(dropout !== undefined ? { dropout } : {}),
        ...hashing,
      });
      const previous = this.#lastBuckets;
      this.#lastBuckets = keep(clone(result.buckets));
      previous?.dispose();
      return mergeHeads(result.output);
    });
  }

  /** Disposes the parameters and {@link LSHSelfAttention.lastBuckets}. */
  override dispose(): void {
    this.#lastBuckets?.dispose();
    this.#lastBuckets = null;
    super.dispose();
  }
}
