import {
  InvalidArgumentError,
  Module,
  ShapeMismatchError,
  concat,
  equal,
  fill,
  formatShape,
  scalar,
  slice,
  tidy,
  where,
  type Tensor,
} from '@reformer/core';
import { ChunkedLMHead } from '@reformer/chunked-ffn';
import { IGNORE_INDEX } from '../labels.js';
import { ReformerModel, buildSeeded, checkIds, type ModelOptions } from '../model.js';
import { resolveEncoderDecoderConfig, targetVocabSize, type EncoderDecoderConfig } from './config.js';
import { ReformerDecoder } from './decoder.js';

/** Options of the encoder side of a call. */
export interface EncodeOptions {
  /** Source padding mask, int32 `[batch, sourceLength]`: 1 = token, 0 = padding (never attended, by the encoder or the decoder). */
  attentionMask?: Tensor;
  /** Hash rounds of every LSH layer (encoder and decoder) for this call. */
  nHashes?: number;
  /** Explicit LSH rotations per encoder layer index (Hugging Face's layout). */
  rotations?: readonly (Tensor | Tensor[] | undefined)[];
}

/** Per-call options of {@link ReformerEncoderDecoder.forward}. */
export interface EncoderDecoderForwardOptions extends EncodeOptions {
  /** Explicit LSH rotations per decoder layer index. */
  decoderRotations?: readonly (Tensor | Tensor[] | undefined)[];
}

/** Options of {@link ReformerEncoderDecoder.loss}. */
export interface EncoderDecoderLossOptions extends EncoderDecoderForwardOptions {
  /**
   * Target ids, int32 `[batch, targetLength]`; −100 = not scored (padding). The decoder reads them
   * shifted right by `decoder_start_token_id` (teacher forcing), −100 read as `pad_token_id`.
   */
  labels: Tensor;
}

/**
 * The encoder–decoder Reformer (trax's `Reformer`, for sequence-to-sequence tasks such as
 * translation), assembled from this library's packages:
 *
 * - `encoder`: a {@link ReformerModel} (embeddings + reversible stack of `attn_layers`, bidirectional,
 *   LSH / local / full attention, chunked feed-forward) → `[batch, sourceLength, 2H]`;
 * - `decoder`: a {@link ReformerDecoder} — reversible layers of causal self-attention
 *   (`decoder_attn_layers`), encoder–decoder attention over the encoder output (dense, or
 *   query-chunked with `cross_attn_chunk_length`) and chunked feed-forward → `[batch, targetLength, 2H]`;
 * - `lm_head`: the chunked LM head `[targetVocab, 2H]` (its loss never forms the full logits).
 *
 * With `share_embeddings` (default) one token table (`encoder.embeddings.word_embeddings`) serves both
 * sides. Training memory is independent of the depth of both stacks (both are reversible).
 *
 * @example
 * ```ts
 * const model = new ReformerEncoderDecoder({ attn_layers: ['lsh', 'local'], decoder_attn_layers: ['local', 'local'],
 *   hidden_size: 64, num_attention_heads: 4, attention_head_size: 16, feed_forward_size: 128,
 *   axial_pos_shape: [16, 16], axial_pos_embds_dim: [32, 32], num_buckets: 8, vocab_size: 32 }, { seed: 1 });
 * const loss = model.loss(source, { labels: target }); // int32 [batch, sourceLength], [batch, targetLength]
 * const out = await generateSeq2Seq(model, source, { maxNewTokens: 20 });
 * ```
 */
export class ReformerEncoderDecoder extends Module {
  /** The resolved configuration. */
  readonly config: EncoderDecoderConfig & { decoder_start_token_id: number };
  /** Source embeddings + reversible encoder. */
  readonly encoder: ReformerModel;
  /** Target embeddings + reversible decoder with cross-attention. */
  readonly decoder: ReformerDecoder;
  /** The output projection (`lm_head.decoder.weight` `[targetVocab, 2H]`). */
  readonly lm_head: ChunkedLMHead;

  /** Creates the model's parameters on the current backend; throws `ReformerConfigError` on a bad config. */
  constructor(config: Partial<EncoderDecoderConfig>, options: ModelOptions = {}) {
    super();
    const c = resolveEncoderDecoderConfig(config);
    this.config = c;
    const reversible = options.reversible ?? true;
    const build = (): [ReformerModel, ReformerDecoder, ChunkedLMHead] => {
      const encoder = new ReformerModel(c, { reversible });
      const decoder = new ReformerDecoder(c, c.share_embeddings ? encoder.embeddings.word_embeddings : undefined, reversible);
      const head = new ChunkedLMHead({
        hiddenSize: 2 * c.hidden_size,
        vocabSize: targetVocabSize(c),
        chunkSize: c.chunk_size_lm_head,
        bias: c.lm_head_bias ?? false,
        initStd: c.initializer_range,
      });
      return [encoder, decoder, head];
    };
    const [encoder, decoder, head] = buildSeeded(options, build);
    this.encoder = this.addModule('encoder', encoder);
    this.decoder = this.addModule('decoder', decoder);
    this.lm_head = this.addModule('lm_head', head);
  }

  /** Whether both stacks run reversibly (settable; false: plain residuals, the reference in tests). */
  get reversible(): boolean {
    return this.encoder.reversible;
  }

  set reversible(on: boolean) {
    this.encoder.reversible = on;
    this.decoder.reversible = on;
  }

  /** Source ids `[batch, sourceLength]` → encoder output `[batch, sourceLength, 2H]`. */
  encode(sourceIds: Tensor, options: EncodeOptions = {}): Tensor {
    return this.encoder.forward(sourceIds, options);
  }

  /**
   * Decoder hidden states `[batch, targetLength, 2H]` of decoder input ids (positions `start …`)
   * over an encoder output (from {@link ReformerEncoderDecoder.encode}).
   */
  decode(decoderIds: Tensor, encoderOutput: Tensor, options: EncoderDecoderForwardOptions & { start?: number } = {}): Tensor {
    const where = `${this.constructor.name}.decode`;
    const start = options.start ?? 0;
    const [batch] = checkIds(where, decoderIds, this.decoder.embeddings.maxLength, start);
    if (encoderOutput.rank !== 3 || encoderOutput.shape[0] !== batch || encoderOutput.shape[2] !== 2 * this.config.hidden_size) {
      throw new ShapeMismatchError(
        `${where}: the encoder output must be [batch = ${batch}, sourceLength, 2·hidden_size = ${2 * this.config.hidden_size}], got ${formatShape(encoderOutput.shape)}.`,
      );
    }
    const mask = options.attentionMask;
    if (mask !== undefined && (mask.rank !== 2 || mask.shape[0] !== batch || mask.shape[1] !== encoderOutput.shape[1])) {
      throw new ShapeMismatchError(
        `${where}: attentionMask must be [${batch}, ${encoderOutput.shape[1]}] like the source, got ${formatShape(mask.shape)}.`,
      );
    }
    return this.decoder.forward(decoderIds, {
      context: encoderOutput,
      start,
      ...(mask !== undefined ? { contextMask: mask } : {}),
      ...(options.nHashes !== undefined ? { nHashes: options.nHashes } : {}),
      ...(options.decoderRotations !== undefined ? { rotations: options.decoderRotations } : {}),
    });
  }

  /**
   * Logits `[batch, targetLength, targetVocab]` (materialised; for inference) of decoder input ids
   * (already starting with `decoder_start_token_id`) given the source.
   */
  forward(sourceIds: Tensor, decoderIds: Tensor, options: EncoderDecoderForwardOptions = {}): Tensor {
    return tidy(() => this.lm_head.forward(this.decode(decoderIds, this.encode(sourceIds, encodeOptions(options)), options)));
  }

  /**
   * The decoder input of teacher forcing: `labels` shifted right by one, `decoder_start_token_id` first,
   * ignored labels (−100) read as `pad_token_id` (trax's `ShiftRight`).
   */
  shiftRight(labels: Tensor): Tensor {
    if (labels.dtype !== 'int32' || labels.rank !== 2 || labels.shape[1]! < 1) {
      throw new ShapeMismatchError(
        `${this.constructor.name}.shiftRight: labels must be int32 [batch, targetLength ≥ 1], got ${labels.dtype} ${formatShape(labels.shape)}.`,
      );
    }
    const [batch, length] = labels.shape as [number, number];
    const c = this.config;
    return tidy(() => {
      const shifted = slice(replaceIgnored(labels, c.pad_token_id), [0, 0], [batch, length - 1]);
      return concat([fill([batch, 1], c.decoder_start_token_id, 'int32'), shifted], 1);
    });
  }

  /**
   * The mean cross-entropy of the targets under teacher forcing, computed chunk by chunk
   * (`chunk_size_lm_head`) so the `[batch, targetLength, vocab]` logits never exist; labels −100 are
   * ignored. Differentiable with respect to every parameter, through both reversible stacks.
   */
  loss(sourceIds: Tensor, options: EncoderDecoderLossOptions): Tensor {
    const where = `${this.constructor.name}.loss`;
    const labels = options?.labels;
    if (labels === undefined)
      throw new InvalidArgumentError(`${where}: options.labels (int32 [batch, targetLength], −100 = not scored) is required.`);
    checkIds(where, sourceIds, this.encoder.embeddings.maxLength, 0, options.attentionMask);
    if (labels.rank !== 2 || labels.shape[0] !== sourceIds.shape[0]) {
      throw new ShapeMismatchError(
        `${where}: labels must be [batch = ${sourceIds.shape[0]}, targetLength], got ${formatShape(labels.shape)}.`,
      );
    }
    return tidy(() => {
      const hidden = this.decode(this.shiftRight(labels), this.encode(sourceIds, encodeOptions(options)), options);
      return this.lm_head.loss(hidden, labels, { shift: false });
    });
  }
}

/** The encoder's options of a call. */
function encodeOptions(options: EncodeOptions): EncodeOptions {
  return {
    ...(options.attentionMask !== undefined ? { attentionMask: options.attentionMask } : {}),
    ...(options.nHashes !== undefined ? { nHashes: options.nHashes } : {}),
    ...(options.rotations !== undefined ? { rotations: options.rotations } : {}),
  };
}

/** `labels` with the ignored value (−100) replaced by `pad`. */
function replaceIgnored(labels: Tensor, pad: number): Tensor {
  return where(equal(labels, scalar(IGNORE_INDEX, 'int32')), fill(labels.shape, pad, 'int32'), labels);
}
