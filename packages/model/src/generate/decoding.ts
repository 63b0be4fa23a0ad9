/**
 * What `generate` (decoder-only) and `generateSeq2Seq` (encoder–decoder) share: the check of their
 * common options, the per-step sampling of one token per row, and reading the last position's logits.
 *
 * @module
 * @internal
 */
import { checkInteger, checkSeed, deriveSeed, noGrad, slice, tidy, uniformValues, type Tensor } from '@reformer/core';
import { checkTokenId } from '../tokenizers/tokenizer.js';
import type { GenerateOptions } from './generate.js';
import { checkSampling, sampleToken, type SamplingOptions } from './sampling.js';

/** The checked decoding options of one generation. @internal */
export interface CheckedDecoding {
  /** Tokens to add per row. */
  readonly maxNewTokens: number;
  /** The checked sampling options. */
  readonly sampling: Required<SamplingOptions>;
  /** Hash rounds of the LSH layers (the option, else the config's). */
  readonly nHashes: number;
}

/**
 * Checks `maxNewTokens`, the sampling options, `nHashes` (default `defaultHashes`), `eosTokenId` (a token
 * id of the `vocabSize` vocabulary) and `seed`. @internal
 */
export function checkGenerateOptions(where: string, options: GenerateOptions, vocabSize: number, defaultHashes: number): CheckedDecoding {
  const maxNewTokens = checkInteger(where, 'maxNewTokens', options.maxNewTokens, 0);
  const sampling = checkSampling(where, options, vocabSize);
  const nHashes = checkInteger(where, 'nHashes', options.nHashes ?? defaultHashes, 1);
  if (options.eosTokenId !== undefined) checkTokenId(where, 'eosTokenId', options.eosTokenId, vocabSize);
  if (options.seed !== undefined) checkSeed(options.seed, where);
  return { maxNewTokens, sampling, nHashes };
}

/**
 * Draws one token per row from each step's logits and appends it to `rows`: a row that has produced
 * `eosTokenId` gets `padTokenId` from then on. @internal
 */
export class TokenSampler {
  readonly #rows: number[][];
  readonly #finished: boolean[];
  readonly #options: GenerateOptions;
  readonly #sampling: Required<SamplingOptions>;
  readonly #seed: number;
  readonly #vocabSize: number;
  readonly #padTokenId: number;

  constructor(
    rows: number[][],
    options: GenerateOptions,
    sampling: Required<SamplingOptions>,
    seed: number,
    vocabSize: number,
    padTokenId: number,
  ) {
    this.#rows = rows;
    this.#finished = rows.map(() => false);
    this.#options = options;
    this.#sampling = sampling;
    this.#seed = seed;
    this.#vocabSize = vocabSize;
    this.#padTokenId = padTokenId;
  }

  /** Whether every row has produced `eosTokenId`. */
  get done(): boolean {
    return this.#finished.every(Boolean);
  }

  /** Samples step `step`'s tokens from `logits` `[rows · vocabSize]`, appends them, reports them to `onToken` and returns them. */
  next(logits: Float32Array, step: number): number[] {
    const V = this.#vocabSize;
    const u = uniformValues(deriveSeed(this.#seed, 1_000_003 + step), this.#rows.length);
    const tokens = this.#rows.map((_, b) => {
      if (this.#finished[b]) return this.#padTokenId;
      const token = sampleToken(logits.subarray(b * V, (b + 1) * V), this.#sampling, u[b]!);
      if (token === this.#options.eosTokenId) this.#finished[b] = true;
      return token;
    });
    tokens.forEach((t, b) => this.#rows[b]!.push(t));
    this.#options.onToken?.(step, tokens);
    return tokens;
  }
}

/** Reads tensors to the host and disposes them. @internal */
export async function readAll(tensors: Tensor[]): Promise<(Float32Array | Int32Array)[]> {
  try {
    return (await Promise.all(tensors.map((t) => t.data()))) as (Float32Array | Int32Array)[];
  } finally {
    for (const t of tensors) t.dispose();
  }
}

/**
 * Logits `[B·V]` of the last position of the hidden states `[B, T, D]` that `hidden()` computes (without
 * gradients), through the LM head `lmHead`: the reference (uncached) path of a generation. @internal
 */
export async function lastPositionLogits(lmHead: { forward(x: Tensor): Tensor }, hidden: () => Tensor): Promise<Float32Array> {
  const logits = noGrad(() =>
    tidy(() => {
      const h = hidden();
      const [B, T, D] = h.shape as [number, number, number];
      return lmHead.forward(slice(h, [0, T - 1, 0], [B, 1, D]));
    }),
  );
  return (await readAll([logits]))[0] as Float32Array;
}
