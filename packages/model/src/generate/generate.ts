import {
  InvalidArgumentError,
  ShapeMismatchError,
  Tensor,
  add,
  concat,
  deriveSeed,
  keep,
  nextSeed,
  noGrad,
  randomNormal,
  reshape,
  slice,
  tensor,
  tidy,
  transpose,
} from '@reformer/core';
import {
  LSHSelfAttention,
  chooseNumBuckets,
  hashVectors,
  lshNormalisedKeys,
  type FullSelfAttention,
  type LocalSelfAttention,
} from '@reformer/lsh';
import type { ReformerConfig } from '../config.js';
import type { ReformerAttention } from '../layer.js';
import { ReformerModelWithLMHead } from '../model.js';
import { LSHCache, LocalCache, type AttentionCache } from './cache.js';
import { checkTokenRows } from '../tokenizers/tokenizer.js';
import { TokenSampler, checkGenerateOptions, lastPositionLogits, readAll } from './decoding.js';
import type { SamplingOptions } from './sampling.js';

/** Options of {@link generate}. */
export interface GenerateOptions extends SamplingOptions {
  /** Tokens to add to each prompt row (integer ≥ 0). */
  maxNewTokens: number;
  /**
   * Seed of the sampling draws and of the LSH rotations, which stay fixed for the whole generation
   * (the config's `hash_seed` takes precedence for the rotations). Default: `nextSeed()`.
   */
  seed?: number;
  /** Hash rounds of every LSH layer (default: the config's `num_hashes`). */
  nHashes?: number;
  /**
   * Use the decoding cache (default true): each new token runs the layers on that token only, attending
   * over cached keys and values; false re-runs the whole sequence for every token (the reference).
   */
  cache?: boolean;
  /** A row stops after producing this token (later steps append `pad_token_id` to it). Default: never. */
  eosTokenId?: number;
  /** Called after each step with the step index and the new token of every row. */
  onToken?: (step: number, tokens: readonly number[]) => void;
}

type Rotations = (Tensor | undefined)[];

/** The attention layers a Reformer layer can hold. */
type AnyAttention = LSHSelfAttention | LocalSelfAttention | FullSelfAttention;

/** The prompt as rows of ids, validated (a tensor is read with `data()`, which every backend supports). */
async function promptRows(where: string, prompt: Tensor | readonly (readonly number[])[], vocab: number): Promise<number[][]> {
  let rows: number[][];
  if (Array.isArray(prompt)) {
    rows = prompt.map((r: unknown, i) => {
      if (!Array.isArray(r)) {
        throw new InvalidArgumentError(
          `${where}: the prompt must be an array of rows of token ids (e.g. [[1, 2, 3]]); row ${i} is ${typeof r}, not an array.`,
        );
      }
      return [...(r as number[])];
    });
  } else if (!(prompt instanceof Tensor)) {
    throw new InvalidArgumentError(
      `${where}: the prompt must be token ids — an int32 tensor [batch, length] or an array of rows of ids such as [[1, 2, 3]] — got ${typeof prompt === 'string' ? 'a string' : typeof prompt}. ` +
        'Encode text with a tokenizer first.',
    );
  } else {
    const t = prompt;
    if (t.dtype !== 'int32' || t.rank !== 2)
      throw new ShapeMismatchError(
        `${where}: the prompt must be int32 [batch, length] or an array of rows, got ${t.dtype} [${t.shape.join(', ')}].`,
      );
    const values = (await t.data()) as Int32Array;
    const [b, l] = t.shape as [number, number];
    rows = Array.from({ length: b }, (_, i) => Array.from(values.subarray(i * l, (i + 1) * l)));
  }
  if (rows.length === 0 || rows[0]!.length === 0)
    throw new ShapeMismatchError(`${where}: the prompt needs at least one row of at least one token.`);
  checkTokenRows(where, 'prompt', rows, vocab);
  return rows;
}

/** Fixed rotations of every LSH layer of `c.attn_layers` for a whole generation (Hugging Face's layout, factors concatenated). @internal */
export function drawGenerationRotations(c: ReformerConfig, seed: number, nHashes: number): Rotations {
  return c.attn_layers.map((type, i) => {
    if (type !== 'lsh') return undefined;
    const factors = typeof c.num_buckets === 'number' ? [c.num_buckets] : (c.num_buckets as number[]);
    const half = factors.reduce((s, f) => s + f / 2, 0);
    return keep(randomNormal([c.num_attention_heads, c.attention_head_size, nHashes, half], { seed: c.hash_seed ?? deriveSeed(seed, i) }));
  });
}

/**
 * Gives a model whose LSH layers choose their bucket count from the length (`num_buckets: null`, Hugging
 * Face's default) one fixed count, as Hugging Face does on a layer's first hashed call and keeps
 * (config included, so a saved model records it): the count the prompt's first call chooses, or —
 * when the prompt fits in one chunk and so is not hashed — the count of the whole generated length.
 */
function fixBucketCount(model: ReformerModelWithLMHead, promptLength: number, maxNewTokens: number): void {
  const c = model.config;
  if (c.num_buckets !== null || !c.attn_layers.includes('lsh')) return;
  const chunk = c.lsh_attn_chunk_length;
  const length = promptLength > chunk ? promptLength : promptLength + maxNewTokens;
  const padded = Math.ceil(length / chunk) * chunk;
  const nBuckets = chooseNumBuckets(Math.max(padded, chunk + 1), chunk, c.max_position_embeddings);
  c.num_buckets = nBuckets;
  c.attn_layers.forEach((type, i) => {
    if (type === 'lsh')
      ((model.reformer.encoder.layers.get(i).f as ReformerAttention).attention as LSHSelfAttention).fixNumBuckets(nBuckets);
  });
}

/** What one layer's decoding needs: its attention module and cache. */
interface LayerState {
  attention: ReformerAttention;
  cache: AttentionCache;
}

/** Queries, keys (normalised for LSH), values and LSH buckets of the hidden states `n` `[B, T, H]`. @internal */
export function projections(layer: ReformerAttention, n: Tensor, rotations: Tensor | undefined, nHashes: number): Tensor[] {
  const attention = layer.attention as AnyAttention;
  if (!(attention instanceof LSHSelfAttention)) {
    const { query, key, value } = attention.self_attention;
    return [query.forward(n), key.forward(n), value.forward(n)];
  }
  const { numHeads: heads, headSize: d } = attention;
  const qk = attention.self_attention.query_key.forward(n);
  const [B, T] = qk.shape as [number, number];
  // The normalised keys of LSH attention (lshNormalisedKeys, per head).
  const x = reshape(qk, [B, T, heads, d]);
  const k = reshape(lshNormalisedKeys(x), [B, T, heads * d]);
  // generate() has fixed num_buckets = null ('auto') before any layer runs (fixBucketCount).
  const nBuckets = attention.nBuckets as number | number[];
  const { buckets } = hashVectors(transpose(x, [0, 2, 1, 3]), { nBuckets, nHashes, rotations: rotations! });
  return [qk, k, attention.self_attention.value.forward(n), buckets];
}

/**
 * Generates `maxNewTokens` tokens after each prompt row with a causal Reformer LM and returns the rows
 * (prompt + new tokens). Sampling: `temperature` (0 = greedy), `topK`, `topP`, from `seed`.
 *
 * With the cache (default), the prompt runs once through the model while every layer's keys and
 * values (and, for LSH layers, each position's buckets, kept sorted per round) are cached; each new
 * token then runs the layers on that one token, and its attention reads only its window: O(chunk) keys
 * for LSH and local layers (plus an O(length) integer search for its sorted slot). The LSH rotations
 * are fixed for the whole generation.
 *
 * Exactness: the new token gets exactly the window a full re-run (`cache: false`) gives the last
 * position, so the cache reproduces the re-run whenever earlier positions' states do not depend on later
 * tokens: full layers, local layers with `local_num_chunks_after = 0`, and any layer whose inputs come
 * only from such layers. Hugging Face's layouts do not guarantee that everywhere: an LSH layer sorts
 * positions by bucket, so a later token shifts the chunk windows of earlier ones, and a local layer with
 * chunks after wraps its last chunk around to chunk 0. Above such a layer a re-run recomputes earlier
 * positions' states under the new layout, while the cache keeps them as they were when those tokens
 * were generated (as Hugging Face's and trax's cached decoding do); tokens then usually, not always,
 * agree.
 *
 * The model runs in evaluation mode during the call (dropout off) and is put back afterwards. LSH
 * layers with `num_buckets: null` (Hugging Face's default) get a fixed bucket count at the first call,
 * as in Hugging Face — the count the prompt chooses (or, for a prompt within one chunk, the whole
 * generated length) — and keep it, in the layers and in `model.config`.
 *
 * @throws InvalidArgumentError on missing or bad options (a `seed` that is not a non-negative safe
 *   integer, ...), a prompt that is not token ids (e.g. a string), or ids out of the vocabulary.
 * @throws ShapeMismatchError when the prompt rows differ in length or the result would exceed the
 *   position embeddings' reach.
 */
export async function generate(
  model: ReformerModelWithLMHead,
  prompt: Tensor | readonly (readonly number[])[],
  options: GenerateOptions,
): Promise<number[][]> {
  const where = 'generate';
  if (!(model instanceof ReformerModelWithLMHead))
    throw new InvalidArgumentError(`${where}: expected a ReformerModelWithLMHead (a causal LM).`);
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError(
      `${where}: options must be given, with at least maxNewTokens (tokens to add), e.g. generate(model, prompt, { maxNewTokens: 20 }).`,
    );
  }
  const c = model.config;
  const rows = await promptRows(where, prompt, c.vocab_size);
  const { maxNewTokens, sampling, nHashes } = checkGenerateOptions(where, options, c.vocab_size, c.num_hashes);
  const total = rows[0]!.length + maxNewTokens;
  const reach = model.reformer.embeddings.maxLength;
  if (total > reach)
    throw new ShapeMismatchError(`${where}: prompt + maxNewTokens = ${total} positions, but the position embeddings cover ${reach}.`);

  fixBucketCount(model, rows[0]!.length, maxNewTokens);
  const seed = options.seed ?? nextSeed();
  const wasTraining = model.training;
  model.eval();
  const rotations = drawGenerationRotations(c, seed, nHashes);
  const sampler = new TokenSampler(rows, options, sampling, seed, c.vocab_size, c.pad_token_id);
  try {
    if (maxNewTokens === 0) return rows;
    if (options.cache === false) {
      for (let step = 0; step < maxNewTokens && !sampler.done; step++) {
        sampler.next(await lastLogits(model, rows, rotations, nHashes), step);
      }
      return rows;
    }
    const decoder = new CachedDecoder(model, rotations, nHashes);
    let logits = await decoder.prefill(rows);
    for (let step = 0; step < maxNewTokens; step++) {
      const tokens = sampler.next(logits, step);
      if (step + 1 === maxNewTokens || sampler.done) break;
      logits = await decoder.step(tokens);
    }
    return rows;
  } finally {
    for (const r of rotations) r?.dispose();
    model.train(wasTraining);
  }
}

/** Logits `[B·V]` of the last position of a full forward over `rows` (the reference path). */
async function lastLogits(model: ReformerModelWithLMHead, rows: number[][], rotations: Rotations, nHashes: number): Promise<Float32Array> {
  const ids = (): Tensor => tensor(Int32Array.from(rows.flat()), [rows.length, rows[0]!.length], 'int32');
  return lastPositionLogits(model.lm_head, () => model.hiddenStates(ids(), { rotations, nHashes }));
}

/** The cached decoding state of one generation. */
class CachedDecoder {
  readonly #model: ReformerModelWithLMHead;
  readonly #rotations: Rotations;
  readonly #nHashes: number;
  #layers: LayerState[] = [];
  #length = 0;

  constructor(model: ReformerModelWithLMHead, rotations: Rotations, nHashes: number) {
    this.#model = model;
    this.#rotations = rotations;
    this.#nHashes = nHashes;
  }

  #createCaches(batch: number): void {
    const c = this.#model.config;
    const shape = { batch, heads: c.num_attention_heads, headSize: c.attention_head_size };
    this.#layers = c.attn_layers.map((type, i) => ({
      attention: this.#model.reformer.encoder.layers.get(i).f as ReformerAttention,
      cache:
        type === 'lsh'
          ? new LSHCache(shape, {
              chunk: c.lsh_attn_chunk_length,
              before: c.lsh_num_chunks_before,
              after: c.lsh_num_chunks_after,
              nHashes: this.#nHashes,
            })
          : new LocalCache(
              shape,
              type === 'local'
                ? { chunk: c.local_attn_chunk_length, before: c.local_num_chunks_before, after: c.local_num_chunks_after }
                : null,
            ),
    }));
  }

  /** Runs the prompt, filling the caches; returns the last position's logits `[B·V]`. */
  async prefill(rows: number[][]): Promise<Float32Array> {
    const B = rows.length;
    const T = rows[0]!.length;
    this.#createCaches(B);
    const model = this.#model;
    const perLayer: Tensor[][] = [];
    const logits = noGrad(() =>
      tidy(() => {
        const ids = tensor(Int32Array.from(rows.flat()), [B, T], 'int32');
        const x = model.reformer.embeddings.forward(ids, 0);
        let x1 = x;
        let x2 = x;
        this.#layers.forEach(({ attention }, i) => {
          const block = model.reformer.encoder.layers.get(i);
          const n = attention.layer_norm.forward(x2);
          perLayer.push(projections(attention, n, this.#rotations[i], this.#nHashes).map((t) => keep(t)));
          [x1, x2] = block.forward(x1, x2, { rotations: this.#rotations, nHashes: this.#nHashes });
        });
        const hidden = model.reformer.encoder.layer_norm.forward(
          concat([slice(x1, [0, T - 1, 0], [B, 1, -1]), slice(x2, [0, T - 1, 0], [B, 1, -1])], -1),
        );
        return model.lm_head.forward(hidden);
      }),
    );
    for (const [i, tensors] of perLayer.entries()) {
      const [, k, v, buckets] = await readAll(tensors);
      this.#layers[i]!.cache.append(k as Float32Array, v as Float32Array, T, buckets as Int32Array | undefined);
    }
    this.#length = T;
    return (await readAll([logits]))[0] as Float32Array;
  }

  /** Appends one token per row and returns the logits `[B·V]` of the new position. */
  async step(tokens: readonly number[]): Promise<Float32Array> {
    const model = this.#model;
    const B = tokens.length;
    const t = this.#length;
    const x = noGrad(() => tidy(() => model.reformer.embeddings.forward(tensor(Int32Array.from(tokens), [B, 1], 'int32'), t)));
    let x1 = x;
    let x2 = x;
    const dispose = () => {
      x1.dispose();
      x2.dispose();
    };
    try {
      for (const [i, { attention, cache }] of this.#layers.entries()) {
        const block = model.reformer.encoder.layers.get(i);
        const tensors = noGrad(() =>
          tidy(() => projections(attention, attention.layer_norm.forward(x2), this.#rotations[i], this.#nHashes)),
        );
        const [q, k, v, buckets] = await readAll(tensors);
        cache.append(k as Float32Array, v as Float32Array, 1, buckets as Int32Array | undefined);
        const attended = cache.attendLast(q as Float32Array);
        const [y1, y2] = noGrad(() =>
          tidy(() => {
            const heads = tensor(attended, [B, 1, attended.length / B], 'float32');
            const a = add(x1, (attention.attention as AnyAttention).output.forward(heads));
            return [a, add(x2, block.g.forward(a))] as [Tensor, Tensor];
          }),
        );
        dispose();
        x1 = y1;
        x2 = y2;
      }
      const logits = noGrad(() => tidy(() => model.lm_head.forward(model.reformer.encoder.layer_norm.forward(concat([x1, x2], -1)))));
      this.#length = t + 1;
      return (await readAll([logits]))[0] as Float32Array;
    } finally {
      dispose();
    }
  }
}
