import { Dropout, InvalidArgumentError, LayerNorm, Module, ModuleList, Tensor, tidy, zerosLike, type Embedding } from '@reformer/core';
import { CrossAttention } from '@reformer/lsh';
import { ReversibleBlock, ReversibleSequence, duplicate, mergeHalves, type SubLayer } from '@reformer/reversible';
import { ReformerEmbeddings } from '../embeddings.js';
import { ReformerAttention, createReformerFeedForward, type ReformerFeedForward, type ReformerLayerOptions } from '../layer.js';
import { decoderLayerConfig, type EncoderDecoderConfig } from './config.js';

/** Per-call options of the decoder's sub-layers (through the reversible sequence). */
export interface DecoderLayerOptions extends ReformerLayerOptions {
  /** The encoder output `[batch, sourceLength, 2H]` the cross-attention reads (differentiable). */
  context: Tensor;
  /** Padding mask of the source, int32 `[batch, sourceLength]`. */
  contextMask?: Tensor;
}

/**
 * The encoder–decoder attention half-layer: `CrossAttn(h) = crossAttention(LayerNorm(h), context)`,
 * queries from the decoder stream (width H), keys and values from the encoder output (width 2H).
 * Parameters: `layer_norm.{weight,bias}`, `query.weight`, `key.weight`, `value.weight`,
 * `output.dense.weight`.
 */
export class ReformerCrossAttention extends Module {
  /** Pre-LayerNorm over H. */
  readonly layer_norm: LayerNorm;
  /** The attention layer (its children are registered here directly). */
  readonly attention: CrossAttention;

  constructor(config: EncoderDecoderConfig) {
    super();
    this.layer_norm = this.addModule('layer_norm', new LayerNorm({ dim: config.hidden_size, eps: config.layer_norm_eps }));
    this.attention = new CrossAttention({
      hiddenSize: config.hidden_size,
      contextSize: 2 * config.hidden_size,
      numHeads: config.num_attention_heads,
      headSize: config.attention_head_size,
      outputDropout: config.hidden_dropout_prob,
      initStd: config.initializer_range,
      ...(config.cross_attn_chunk_length > 0 ? { queryChunk: config.cross_attn_chunk_length } : {}),
    });
    for (const [name, child] of this.attention.namedChildren()) this.addModule(name, child);
  }

  /** `h` `[batch, length, H]` → `crossAttention(LayerNorm(h), options.context)`; throws `InvalidArgumentError` without a context. */
  forward(h: Tensor, options: DecoderLayerOptions): Tensor {
    if (!(options?.context instanceof Tensor)) {
      throw new InvalidArgumentError(
        'ReformerCrossAttention.forward: options.context (the encoder output [batch, sourceLength, 2·hidden_size]) is required.',
      );
    }
    return tidy(() =>
      this.attention.forward(
        this.layer_norm.forward(h),
        options.context,
        options.contextMask !== undefined ? { contextMask: options.contextMask } : {},
      ),
    );
  }
}

/**
 * One decoder layer, trax's `EncoderDecoderBlock`: three half-residuals — causal self-attention
 * (`attention.…`, Hugging Face's `ReformerAttention`), encoder–decoder attention (`cross_attention.…`)
 * and the chunked feed-forward (`feed_forward.…`) — each adding its output to one of the two
 * reversible streams from the other (see {@link ReformerDecoder}).
 */
export class ReformerDecoderLayer extends Module {
  /** Causal self-attention (pre-LayerNorm + LSH, local or full attention). */
  readonly attention: ReformerAttention;
  /** Encoder–decoder attention (pre-LayerNorm + `CrossAttention`). */
  readonly cross_attention: ReformerCrossAttention;
  /** Chunked feed-forward (with its pre-LayerNorm). */
  readonly feed_forward: ReformerFeedForward;

  constructor(config: EncoderDecoderConfig, index: number) {
    super();
    const layerConfig = decoderLayerConfig(config);
    this.attention = this.addModule('attention', new ReformerAttention(layerConfig, config.decoder_attn_layers[index]!, index));
    this.cross_attention = this.addModule('cross_attention', new ReformerCrossAttention(config));
    this.feed_forward = this.addModule('feed_forward', createReformerFeedForward(layerConfig));
  }

  /**
   * The three half-residuals in order: self-attention, cross-attention, feed-forward — as plain
   * sub-layers (not modules), so a reversible block does not register them under its own names.
   */
  halfResiduals(): SubLayer<DecoderLayerOptions>[] {
    const plain = (m: Module & { forward(x: Tensor, o: DecoderLayerOptions): Tensor }): SubLayer<DecoderLayerOptions> => ({
      forward: (x, o) => m.forward(x, o!),
      parameters: () => m.parameters(),
    });
    return [plain(this.attention), plain(this.cross_attention), plain(this.feed_forward)];
  }
}

/** The sub-layer that adds nothing (closes an odd number of half-residuals into a last block). */
const NOTHING: SubLayer<DecoderLayerOptions> = { forward: (x) => zerosLike(x), parameters: () => [] };

/**
 * The reversible decoder of the encoder–decoder Reformer (trax's `Reformer` decoder): embeddings of
 * the (right-shifted) target tokens, duplicated into two streams; for each layer the half-residuals
 *
 * ```
 * x1 += SelfAttn(x2);   x2 += CrossAttn(x1, encoder output);   x1 += FF(x2);   (then the streams swap roles)
 * ```
 *
 * i.e. one long chain of half-residuals that alternately update the two streams, each from the other
 * (trax's `ReversibleHalfResidual` + `ReversibleSwap`). Consecutive pairs of that chain are the
 * `(f, g)` of `@reformer/reversible` blocks — `(self₀, cross₀)`, `(ff₀, self₁)`, `(cross₁, ff₁)`, … —
 * and a last block with `g = 0` closes an odd chain, so the decoder is one `ReversibleSequence`:
 * memory independent of depth. The encoder output reaches every cross-attention as the sequence's
 * differentiable `context` option, its gradient summed over the layers in the reversible backward.
 * The output is `dropout(LayerNorm(concat(x1, x2)))` over 2H (`layer_norm.…`), as the encoder's.
 *
 * Parameters: `embeddings.…` (the word table may be the encoder's), `layers.{i}.attention.…`,
 * `layers.{i}.cross_attention.…`, `layers.{i}.feed_forward.…`, `layer_norm.…`.
 */
export class ReformerDecoder extends Module {
  /** Target token and position embeddings. */
  readonly embeddings: ReformerEmbeddings;
  /** The decoder layers (parameter names). */
  readonly layers: ModuleList<ReformerDecoderLayer>;
  /** Final LayerNorm over 2H. */
  readonly layer_norm: LayerNorm;
  /** Dropout after it. */
  readonly dropout: Dropout;
  /** The reversible chain of half-residuals (not a registered child: its modules are `layers`'). */
  readonly stack: ReversibleSequence<DecoderLayerOptions>;

  /**
   * @param config - the resolved encoder–decoder config.
   * @param wordEmbeddings - a table to share with the encoder (`share_embeddings`).
   * @param reversible - reversible (default) or plain residual stack.
   */
  constructor(config: EncoderDecoderConfig, wordEmbeddings: Embedding | undefined, reversible = true) {
    super();
    this.embeddings = this.addModule('embeddings', new ReformerEmbeddings(decoderLayerConfig(config), wordEmbeddings));
    this.layers = this.addModule('layers', new ModuleList(config.decoder_attn_layers.map((_, i) => new ReformerDecoderLayer(config, i))));
    this.layer_norm = this.addModule('layer_norm', new LayerNorm({ dim: 2 * config.hidden_size, eps: config.layer_norm_eps }));
    this.dropout = this.addModule('dropout', new Dropout({ rate: config.hidden_dropout_prob }));
    const chain = this.halfResiduals();
    if (chain.length % 2 === 1) chain.push(NOTHING);
    const blocks: ReversibleBlock<DecoderLayerOptions>[] = [];
    for (let i = 0; i < chain.length; i += 2) blocks.push(new ReversibleBlock(chain[i]!, chain[i + 1]!));
    this.stack = new ReversibleSequence(blocks, { reversible, contextKeys: ['context'] });
  }

  /** Every half-residual in chain order (three per layer); half-residual `k` updates stream `k mod 2`. */
  halfResiduals(): SubLayer<DecoderLayerOptions>[] {
    return [...this.layers].flatMap((layer) => layer.halfResiduals());
  }

  /** Whether the stack runs reversibly. */
  get reversible(): boolean {
    return this.stack.reversible;
  }

  set reversible(on: boolean) {
    this.stack.reversible = on;
  }

  /**
   * Decoder input ids `[batch, length]` (starting at position `start`) attending causally to
   * themselves and fully to `options.context` → hidden states `[batch, length, 2H]`.
   */
  forward(ids: Tensor, options: DecoderLayerOptions & { start?: number }): Tensor {
    const { start = 0, ...layerOptions } = options;
    return tidy(() => {
      const [x1, x2] = duplicate(this.embeddings.forward(ids, start));
      const [y1, y2] = this.stack.forward(x1, x2, layerOptions);
      return this.dropout.forward(this.layer_norm.forward(mergeHalves(y1, y2)));
    });
  }
}
