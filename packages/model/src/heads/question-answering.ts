import { InvalidArgumentError, Linear, Module, ShapeMismatchError, formatShape, reshape, split, tidy, type Tensor } from '@reformer/core';
import { ReformerConfigError } from '../config.js';
import { ReformerModel, buildSeeded, type ForwardOptions, type ModelOptions } from '../model.js';
import { resolveHeadConfig, type HeadConfig } from './config.js';
import { checkSpanPositions, spanLoss } from './losses.js';

/** Options of {@link ReformerForQuestionAnswering.loss}. */
export interface SpanLossOptions extends ForwardOptions {
  /** int32 `[batch]` (or `[batch, 1]`): the answer's first token. Clamped into `[0, length]`; `length` = not scored. */
  startPositions: Tensor;
  /** int32 `[batch]` (or `[batch, 1]`): the answer's last token, treated like `startPositions`. */
  endPositions: Tensor;
}

/** What {@link ReformerForQuestionAnswering.forward} returns. */
export interface SpanLogits {
  /** `[batch, length]`: score of each position as the answer's start. */
  startLogits: Tensor;
  /** `[batch, length]`: score of each position as the answer's end. */
  endLogits: Tensor;
}

/**
 * Hugging Face's `ReformerForQuestionAnswering`: the Reformer body (`reformer.…`) and `qa_outputs`
 * (2H → 2, with bias) at every position, split into start and end logits. `loss(ids, { startPositions,
 * endPositions })` is Hugging Face's span loss (see `spanLoss`): out-of-range positions are clamped,
 * those at or beyond the sequence's end are not scored, and the start and end cross-entropies are
 * averaged.
 *
 * @example
 * ```ts
 * const model = new ReformerForQuestionAnswering({ attn_layers: ['local', 'lsh'], hidden_size: 64,
 *   num_attention_heads: 2, attention_head_size: 32, axial_pos_shape: [16, 16], axial_pos_embds_dim: [32, 32],
 *   vocab_size: 64 }, { seed: 1 });
 * const { startLogits, endLogits } = model.forward(ids);           // each [batch, length]
 * const loss = model.loss(ids, { startPositions, endPositions });  // int32 [batch] each
 * ```
 */
export class ReformerForQuestionAnswering extends Module {
  /** The validated configuration (`num_labels` is 2). */
  readonly config: HeadConfig;
  /** The body. */
  readonly reformer: ReformerModel;
  /** 2H → 2: start and end scores. */
  readonly qa_outputs: Linear;

  /** Creates the model; throws `ReformerConfigError` on a bad config or `num_labels` other than 2. */
  constructor(config: Partial<HeadConfig>, options: ModelOptions = {}) {
    super();
    const resolved = resolveHeadConfig(config, 'ReformerForQuestionAnswering');
    if (resolved.num_labels !== 2) {
      throw new ReformerConfigError([`ReformerForQuestionAnswering: num_labels must be 2 (start and end), got ${resolved.num_labels}`]);
    }
    const build = (): [ReformerModel, Linear] => [
      new ReformerModel(resolved, { ...options, seed: undefined }),
      new Linear({ inFeatures: 2 * resolved.hidden_size, outFeatures: 2, init: { std: resolved.initializer_range } }),
    ];
    const [reformer, qa] = buildSeeded(options, build);
    this.config = resolved;
    this.reformer = this.addModule('reformer', reformer);
    this.qa_outputs = this.addModule('qa_outputs', qa);
  }

  /** The sequence output `[batch, length, 2H]` the head reads. */
  hiddenStates(ids: Tensor, options: ForwardOptions = {}): Tensor {
    return this.reformer.forward(ids, options);
  }

  /** Sequence output `[batch, length, 2H]` → start and end logits, each `[batch, length]`. */
  spanLogits(hidden: Tensor): SpanLogits {
    if (hidden.rank !== 3) {
      throw new ShapeMismatchError(
        `ReformerForQuestionAnswering.spanLogits: the sequence output must be [batch, length, ${this.qa_outputs.inFeatures}], got ${formatShape(hidden.shape)}.`,
      );
    }
    const [batch, length] = hidden.shape as [number, number];
    const [startLogits, endLogits] = tidy(() => split(this.qa_outputs.forward(hidden), 2, 2).map((t) => reshape(t, [batch, length]))) as [
      Tensor,
      Tensor,
    ];
    return { startLogits, endLogits };
  }

  /** int32 `ids` `[batch, length]` → `{ startLogits, endLogits }`, each `[batch, length]`. */
  forward(ids: Tensor, options: ForwardOptions = {}): SpanLogits {
    return tidy(() => this.spanLogits(this.reformer.forward(ids, options)));
  }

  /** Hugging Face's span loss (a scalar); NaN when every start (or every end) position lies at or beyond the end. */
  loss(ids: Tensor, options: SpanLossOptions): Tensor {
    const o = options as Partial<SpanLossOptions> | undefined;
    if (o?.startPositions === undefined || o.endPositions === undefined) {
      throw new InvalidArgumentError(
        'ReformerForQuestionAnswering.loss: options.startPositions and options.endPositions are both required (int32 [batch] token indices).',
      );
    }
    const { startPositions, endPositions } = o;
    checkSpanPositions('ReformerForQuestionAnswering.loss', ids.shape[0] ?? 0, startPositions, endPositions);
    return tidy(() => {
      const { startLogits, endLogits } = this.forward(ids, options);
      return spanLoss(startLogits, endLogits, startPositions, endPositions);
    });
  }
}
