/**
 * The random stream of attention-probability dropout inside the fused chunked-attention kernel.
 *
 * The kernel never stores the probabilities, so it cannot store a dropout mask either: every backend
 * recomputes the keep/drop decision of a (query, key) pair from a counter-based hash of
 * `(seed, batch, head, round, query position, key position)` wherever it needs it (forward, backward,
 * a reversible layer's recompute). The hash uses only 32-bit unsigned wrapping multiplies, additions,
 * xors and shifts, so TypeScript (`Math.imul`, `>>> 0`) and WGSL (`u32`) compute the same bits, and
 * the mask is identical on every backend.
 *
 * The hash is MurmurHash3's 32-bit finaliser (`fmix32`, a bijection of u32 with full avalanche)
 * applied after absorbing each key word with a golden-ratio multiply:
 *
 * ```
 * absorb(h, x) = fmix32(h + x · 0x9E3779B1)            (mod 2³²)
 * row  = absorb(absorb(absorb(absorb(absorb(fmix32(seedLo ^ 0x2545F491), seedHi), batch), head), round), queryPos)
 * bits = absorb(row, keyPos)
 * keep ⇔ bits ≥ threshold,   threshold = ⌊rate · 2³²⌋
 * ```
 *
 * A kept probability is multiplied by `1 / (1 − rate)` (inverted dropout, as PyTorch).
 *
 * @module
 */
import { checkSeed } from './random.js';
import { checkRate } from './validate.js';

/** Dropout on the attention probabilities of the chunked-attention kernel. */
export interface AttentionDropout {
  /** Probability of dropping an attention probability, in [0, 1). */
  rate: number;
  /** Seed of the mask: a non-negative safe integer (e.g. from `nextSeed()`). */
  seed: number;
  /**
   * Slots per hash round (default: the whole sequence, one round). Query slot s belongs to round
   * `⌊s / roundLength⌋`; must divide the sequence length. LSH attention passes its padded length.
   */
  roundLength?: number;
}

/** The integer words a kernel needs to evaluate the mask. */
export interface AttentionDropoutWords {
  /** Low and high 32 bits of the seed. */
  seedLo: number;
  seedHi: number;
  /** Keep a probability when its hash is ≥ this (u32). */
  threshold: number;
  /** Factor of a kept probability: 1 / (1 − rate). */
  keepScale: number;
}

const GOLDEN = 0x9e3779b1;
/** Mixed into the seed first, so that the all-zero key does not hash to 0 (fmix32(0) = 0). */
export const ATTENTION_DROPOUT_SALT = 0x2545f491;

/** MurmurHash3's 32-bit finaliser. */
export function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Absorbs one 32-bit word into the running hash `h`. */
export function hashAbsorb(h: number, x: number): number {
  return fmix32((h + Math.imul(x >>> 0, GOLDEN)) >>> 0);
}

/** The validated integer words of a dropout spec (seed split into two u32, rate as a u32 threshold). */
export function attentionDropoutWords(rate: number, seed: number): AttentionDropoutWords {
  checkRate('attention dropout', 'rate', rate);
  checkSeed(seed, 'attention dropout');
  return {
    seedLo: seed >>> 0,
    seedHi: Math.floor(seed / 0x100000000) >>> 0,
    threshold: Math.min(0xffffffff, Math.floor(rate * 0x100000000)),
    keepScale: 1 / (1 - rate),
  };
}

/** The hash of everything before the query position: seed, batch, head and round. */
export function attentionDropoutRoundKey(w: AttentionDropoutWords, batch: number, head: number, round: number): number {
  let h = hashAbsorb(fmix32((w.seedLo ^ ATTENTION_DROPOUT_SALT) >>> 0), w.seedHi);
  h = hashAbsorb(h, batch);
  h = hashAbsorb(h, head);
  return hashAbsorb(h, round);
}

/** The per-query part of the hash (everything but the key position). */
export function attentionDropoutRowKey(w: AttentionDropoutWords, batch: number, head: number, round: number, queryPos: number): number {
  return hashAbsorb(attentionDropoutRoundKey(w, batch, head, round), queryPos);
}

/** Whether the probability of key position `keyPos` survives, given the query's row key. */
export function attentionDropoutKeeps(w: AttentionDropoutWords, rowKey: number, keyPos: number): boolean {
  return hashAbsorb(rowKey, keyPos) >= w.threshold;
}

/**
 * The multiplier (`1 / (1 − rate)` or 0) of the probability of query position `queryPos` in round
 * `round` on key position `keyPos`, in head (batch, head): the one definition every kernel matches.
 */
export function attentionDropoutFactor(
  rate: number,
  seed: number,
  batch: number,
  head: number,
  round: number,
  queryPos: number,
  keyPos: number,
): number {
  const w = attentionDropoutWords(rate, seed);
  return attentionDropoutKeeps(w, attentionDropoutRowKey(w, batch, head, round, queryPos), keyPos) ? w.keepScale : 0;
}
