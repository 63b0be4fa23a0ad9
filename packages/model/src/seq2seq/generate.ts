import {
  DTypeError,
  InvalidArgumentError,
  ShapeMismatchError,
  add,
  clone,
  concat,
  deriveSeed,
  nextSeed,
  noGrad,
  seedScope,
  tensor,
  tidy,
  type Tensor,
} from '@reformer/core';
import type { FullSelfAttention, LSHSelfAttention, LocalSelfAttention } from '@reformer/lsh';
import { LSHCache, LocalCache, type AttentionCache } from '../generate/cache.js';
import { drawGenerationRotations, projections, type GenerateOptions } from '../generate/generate.js';
import { TokenSampler, checkGenerateOptions, lastPositionLogits, readAll } from '../generate/decoding.js';
import { checkTokenRows } from '../tokenizers/tokenizer.js';
import { decoderLayerConfig, targetVocabSize } from './config.js';
import { CrossAttentionCache } from './cross-cache.js';
import { ReformerEncoderDecoder } from './model.js';

/**
 * Options of {@link generateSeq2Seq}: those of `generate` (`maxNewTokens` target tokens per source row;
 * with `cache: false` the decoder re-runs over the whole target prefix for every token, while the
 * encoder runs once either way), plus the source's padding mask.
 */
export interface Seq2SeqGenerateOptions extends GenerateOptions {
  /** Source padding mask, int32 `[batch, sourceLength]` (1 = token, 0 = padding). */
  attentionMask?: Tensor;
}

type Rotations = (Tensor | undefined)[];

/** The self-attention layers a decoder layer can hold. */
type SelfAttentionLayer = LSHSelfAttention | LocalSelfAttention | FullSelfAttention;

/** The source ids as a tensor (validated: int32 `[batch, length]`, ids in the vocabulary). */
function sourceTensor(where: string, source: Tensor | readonly (readonly number[])[], vocab: number): Tensor {
  if (Array.isArray(source)) {
    const rows = source as readonly (readonly number[])[];
    if (rows.length === 0 || !Array.isArray(rows[0]) || rows[0].length === 0)
      throw new ShapeMismatchError(`${where}: the source needs at least one row of at least one token id, e.g. [[5, 3, 7]].`);
    const i = rows.findIndex((r) => !Array.isArray(r));
    if (i >= 0) throw new ShapeMismatchError(`${where}: every source row must be an array of token ids; row ${i} is not.`);
    checkTokenRows(where, 'source', rows, vocab);
    return tensor(Int32Array.from(rows.flat()), [rows.length, rows[0].length], 'int32');
  }
  const t = source as Tensor;
  if (t.dtype !== 'int32')
    throw new DTypeError(`${where}: the source must be int32 [batch, length] token ids (or an array of rows), got ${t.dtype}.`);
  return t;
}

/**
 * Generates up to `maxNewTokens` target tokens for each source row with an encoder–decoder Reformer
 * and returns them (without the start token). Sampling: `temperature` (0 = greedy), `topK`, `topP`,
 * from `seed`.
 *
 * The encoder runs once. With the cache (default), each decoder layer keeps, on the host, its causal
 * self-attention keys and values (the decoding caches of {@link generate}: LSH layers keep each
 * position's buckets sorted per round, with rotations fixed for the generation) and the encoder
 * output's cross-attention keys and values, projected once. Each new token then runs the decoder's
 * half-residuals on that token only: O(chunk) self-attention for LSH and local layers, O(source length)
 * cross-attention. The cached tokens equal those of the re-run (`cache: false`) whenever the decoder's
 * self-attention layers are full or local without chunks after (tested); above an LSH layer the cache
 * keeps earlier states as generated (see {@link generate}).
 *
 * The model runs in evaluation mode during the call and is put back afterwards.
 *
 * @throws InvalidArgumentError on bad options, ids out of the vocabulary, or decoder LSH layers with
 *   `num_buckets: null`.
 * @throws ShapeMismatchError for a malformed source or mask, or when `maxNewTokens` exceeds the
 *   decoder's position embeddings.
 */
export async function generateSeq2Seq(
  model: ReformerEncoderDecoder,
  source: Tensor | readonly (readonly number[])[],
  options: Seq2SeqGenerateOptions,
): Promise<number[][]> {
  const where = 'generateSeq2Seq';
  if (!(model instanceof ReformerEncoderDecoder)) throw new InvalidArgumentError(`${where}: expected a ReformerEncoderDecoder.`);
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError(`${where}: options must be given, e.g. { maxNewTokens: 20 }.`);
  const c = model.config;
  const vocab = targetVocabSize(c);
  const { maxNewTokens, sampling, nHashes } = checkGenerateOptions(where, options, vocab, c.num_hashes);
  if (c.decoder_attn_layers.includes('lsh') && c.num_buckets === null) {
    throw new InvalidArgumentError(
      `${where}: the decoder's LSH layers would choose their bucket count from the target length, which changes while generating. Set a fixed num_buckets in the config.`,
    );
  }
  const reach = model.decoder.embeddings.maxLength;
  // The start token and every generated token but the last are decoder inputs: maxNewTokens positions.
  if (maxNewTokens > reach)
    throw new ShapeMismatchError(
      `${where}: maxNewTokens = ${maxNewTokens} target positions, but the decoder's position embeddings cover ${reach}.`,
    );

  const src = sourceTensor(where, source, c.vocab_size);
  const batch = src.shape[0]!;
  const seed = options.seed ?? nextSeed();
  const wasTraining = model.training;
  model.eval();
  const rotations = drawGenerationRotations(decoderLayerConfig(c), seed, nHashes);
  let encoded: Tensor | undefined;
  const rows: number[][] = Array.from({ length: batch }, () => []);
  const sampler = new TokenSampler(rows, options, sampling, seed, vocab, c.pad_token_id);
  try {
    const mask = options.attentionMask;
    encoded = noGrad(() =>
      seedScope(deriveSeed(seed, 7), () => model.encode(src, { ...(mask !== undefined ? { attentionMask: mask } : {}), nHashes })),
    );
    if (maxNewTokens === 0) return rows;
    const context = encoded;
    if (options.cache === false) {
      for (let step = 0; step < maxNewTokens && !sampler.done; step++) {
        const ids = rows.map((r) => [c.decoder_start_token_id, ...r]);
        sampler.next(await lastLogits(model, ids, context, mask, rotations, nHashes), step);
      }
      return rows;
    }
    const decoder = await CachedSeq2SeqDecoder.create(model, context, mask, rotations, nHashes);
    let tokens = rows.map(() => c.decoder_start_token_id);
    for (let step = 0; step < maxNewTokens; step++) {
      tokens = sampler.next(await decoder.step(tokens), step);
      if (sampler.done) break;
    }
    return rows;
  } finally {
    encoded?.dispose();
    if (src !== source) src.dispose();
    for (const r of rotations) r?.dispose();
    model.train(wasTraining);
  }
}

/** Logits `[B·V]` of the last target position of a full decoder run over `ids` (the reference path). */
async function lastLogits(
  model: ReformerEncoderDecoder,
  ids: number[][],
  context: Tensor,
  mask: Tensor | undefined,
  rotations: Rotations,
  nHashes: number,
): Promise<Float32Array> {
  return lastPositionLogits(model.lm_head, () =>
    model.decode(tensor(Int32Array.from(ids.flat()), [ids.length, ids[0]!.length], 'int32'), context, {
      ...(mask !== undefined ? { attentionMask: mask } : {}),
      decoderRotations: rotations,
      nHashes,
    }),
  );
}

/** The cached decoding state of one generation: per decoder layer a self-attention and a cross-attention cache. */
class CachedSeq2SeqDecoder {
  readonly #model: ReformerEncoderDecoder;
  readonly #rotations: Rotations;
  readonly #nHashes: number;
  readonly #self: AttentionCache[];
  readonly #cross: CrossAttentionCache[];
  #length = 0;

  private constructor(
    model: ReformerEncoderDecoder,
    rotations: Rotations,
    nHashes: number,
    self: AttentionCache[],
    cross: CrossAttentionCache[],
  ) {
    this.#model = model;
    this.#rotations = rotations;
    this.#nHashes = nHashes;
    this.#self = self;
    this.#cross = cross;
  }

  /** Creates the caches: empty self-attention caches, and every layer's cross-attention keys and values projected once. */
  static async create(
    model: ReformerEncoderDecoder,
    context: Tensor,
    mask: Tensor | undefined,
    rotations: Rotations,
    nHashes: number,
  ): Promise<CachedSeq2SeqDecoder> {
    const c = model.config;
    const [batch, length] = context.shape as [number, number];
    const shape = { batch, heads: c.num_attention_heads, headSize: c.attention_head_size };
    const self = c.decoder_attn_layers.map((type) =>
      type === 'lsh'
        ? new LSHCache(shape, { chunk: c.lsh_attn_chunk_length, before: c.lsh_num_chunks_before, after: c.lsh_num_chunks_after, nHashes })
        : new LocalCache(
            shape,
            type === 'local'
              ? { chunk: c.local_attn_chunk_length, before: c.local_num_chunks_before, after: c.local_num_chunks_after }
              : null,
          ),
    );
    const maskValues = mask === undefined ? null : ((await mask.data()) as Int32Array);
    const cross: CrossAttentionCache[] = [];
    for (const layer of model.decoder.layers) {
      const { key, value } = layer.cross_attention.attention;
      const [k, v] = await readAll(noGrad(() => [key.forward(context), value.forward(context)]));
      cross.push(new CrossAttentionCache(k as Float32Array, v as Float32Array, maskValues, { ...shape, length }));
    }
    return new CachedSeq2SeqDecoder(model, rotations, nHashes, self, cross);
  }

  /**
   * Appends one token per row at the next position and returns the logits `[B·V]` there: the
   * decoder's half-residuals in chain order, half-residual k adding to stream k mod 2 from the other.
   */
  async step(tokens: readonly number[]): Promise<Float32Array> {
    const model = this.#model;
    const B = tokens.length;
    const t = this.#length;
    const x = noGrad(() => tidy(() => model.decoder.embeddings.forward(tensor(Int32Array.from(tokens), [B, 1], 'int32'), t)));
    const streams: [Tensor, Tensor] = [x, noGrad(() => clone(x))];
    const update = (k: number, delta: Tensor): void => {
      const s = k % 2;
      const next = noGrad(() => add(streams[s]!, delta));
      delta.dispose();
      streams[s]!.dispose();
      streams[s] = next;
    };
    const source = (k: number): Tensor => streams[1 - (k % 2)]!;
    try {
      const heads = (values: Float32Array): Tensor => tensor(values, [B, 1, values.length / B], 'float32');
      for (const [i, layer] of [...model.decoder.layers].entries()) {
        const k = 3 * i;
        // Causal self-attention over the cached positions.
        const { attention } = layer;
        const projected = noGrad(() =>
          tidy(() => projections(attention, attention.layer_norm.forward(source(k)), this.#rotations[i], this.#nHashes)),
        );
        const [q, key, value, buckets] = await readAll(projected);
        this.#self[i]!.append(key as Float32Array, value as Float32Array, 1, buckets as Int32Array | undefined);
        const attended = this.#self[i]!.attendLast(q as Float32Array);
        update(
          k,
          noGrad(() => tidy(() => (attention.attention as SelfAttentionLayer).output.forward(heads(attended)))),
        );
        // Encoder–decoder attention over the source keys and values projected once.
        const cross = layer.cross_attention;
        const [query] = await readAll([noGrad(() => tidy(() => cross.attention.query.forward(cross.layer_norm.forward(source(k + 1)))))]);
        const crossed = this.#cross[i]!.attend(query as Float32Array);
        update(
          k + 1,
          noGrad(() => tidy(() => cross.attention.output.forward(heads(crossed)))),
        );
        // Feed-forward.
        update(
          k + 2,
          noGrad(() => layer.feed_forward.forward(source(k + 2))),
        );
      }
      const logits = noGrad(() => tidy(() => model.lm_head.forward(model.decoder.layer_norm.forward(concat(streams, -1)))));
      this.#length = t + 1;
      return (await readAll([logits]))[0] as Float32Array;
    } finally {
      streams[0].dispose();
      streams[1].dispose();
    }
  }
}
