import {
  Dropout,
  InvalidArgumentError,
  Linear,
  Module,
  ShapeMismatchError,
  formatShape,
  reshape,
  slice,
  tanh,
  tidy,
  type Tensor,
} from '@reformer/core';
import { ReformerModel, buildSeeded, type ForwardOptions, type ModelOptions } from '../model.js';
import { resolveHeadConfig, type HeadConfig } from './config.js';
import { checkClassificationLabels, inferProblemType, sequenceClassificationLoss } from './losses.js';

/** Options of {@link ReformerForSequenceClassification.loss}. */
export interface ClassificationLossOptions extends ForwardOptions {
  /**
   * The targets, by `problem_type`: int32 class indices `[batch]` (single-label, −100 = not scored),
   * float32 multi-hot `[batch, num_labels]` (multi-label), float32 `[batch]` / `[batch, num_labels]`
   * (regression). With `problem_type` null, the first call picks it from these (Hugging Face's rule).
   */
  labels: Tensor;
}

/**
 * Hugging Face's `ReformerClassificationHead`: reads only the FIRST position of the sequence output
 * `[batch, length, 2H]`, then dropout → `dense` (2H → H) → tanh → dropout → `out_proj` (H → num_labels).
 */
export class ReformerClassificationHead extends Module {
  /** 2H → H, with bias. */
  readonly dense: Linear;
  /** H → num_labels, with bias. */
  readonly out_proj: Linear;
  /** `classifier_dropout`, or `hidden_dropout_prob` when that is null (both dropouts). */
  readonly dropout: Dropout;

  constructor(config: HeadConfig) {
    super();
    const init = { std: config.initializer_range };
    this.dense = this.addModule('dense', new Linear({ inFeatures: 2 * config.hidden_size, outFeatures: config.hidden_size, init }));
    this.out_proj = this.addModule('out_proj', new Linear({ inFeatures: config.hidden_size, outFeatures: config.num_labels, init }));
    this.dropout = this.addModule('dropout', new Dropout({ rate: config.classifier_dropout ?? config.hidden_dropout_prob }));
  }

  /** `tanh(dense(dropout(hidden[:, 0, :])))` `[batch, H]`: the input of `out_proj`. */
  pooled(hidden: Tensor): Tensor {
    const h2 = this.dense.inFeatures;
    if (hidden.rank !== 3 || hidden.shape[2] !== h2) {
      throw new ShapeMismatchError(
        `ReformerClassificationHead: the sequence output must be [batch, length, ${h2}], got ${formatShape(hidden.shape)}.`,
      );
    }
    const batch = hidden.shape[0]!;
    return tidy(() => tanh(this.dense.forward(this.dropout.forward(reshape(slice(hidden, [0, 0, 0], [batch, 1, h2]), [batch, h2])))));
  }

  /** Sequence output `[batch, length, 2H]` → logits `[batch, num_labels]`. */
  forward(hidden: Tensor): Tensor {
    return tidy(() => this.out_proj.forward(this.dropout.forward(this.pooled(hidden))));
  }
}

/**
 * Hugging Face's `ReformerForSequenceClassification`: the Reformer body (`reformer.…`) and
 * {@link ReformerClassificationHead} (`classifier.…`) over the first position. `forward(ids)` gives
 * logits `[batch, num_labels]`; `loss(ids, { labels })` the loss of `problem_type` (cross-entropy,
 * binary cross-entropy on the logits, or mean squared error; see `sequenceClassificationLoss`).
 *
 * Only position 0 feeds the head, so put what the decision needs there or let attention bring it
 * there (bidirectional attention, `is_decoder: false`, is the default and what classification wants).
 *
 * @example
 * ```ts
 * const model = new ReformerForSequenceClassification({ attn_layers: ['local', 'lsh'], hidden_size: 64,
 *   num_attention_heads: 2, attention_head_size: 32, axial_pos_shape: [16, 16], axial_pos_embds_dim: [32, 32],
 *   vocab_size: 64, num_labels: 3 }, { seed: 1 });
 * const logits = model.forward(ids);                 // [batch, 3]
 * const loss = model.loss(ids, { labels });          // labels: int32 [batch]
 * ```
 */
export class ReformerForSequenceClassification extends Module {
  /** The validated configuration, with `num_labels`, `id2label`, `label2id`, `problem_type`, `classifier_dropout`. */
  readonly config: HeadConfig;
  /** The body. */
  readonly reformer: ReformerModel;
  /** The head. */
  readonly classifier: ReformerClassificationHead;

  /** Creates the model; throws `ReformerConfigError` on a bad config. */
  constructor(config: Partial<HeadConfig>, options: ModelOptions = {}) {
    super();
    const resolved = resolveHeadConfig(config, 'ReformerForSequenceClassification');
    const build = (): [ReformerModel, ReformerClassificationHead] => [
      new ReformerModel(resolved, { ...options, seed: undefined }),
      new ReformerClassificationHead(resolved),
    ];
    const [reformer, classifier] = buildSeeded(options, build);
    this.config = resolved;
    this.reformer = this.addModule('reformer', reformer);
    this.classifier = this.addModule('classifier', classifier);
  }

  /** Number of outputs (`config.num_labels`). */
  get numLabels(): number {
    return this.config.num_labels;
  }

  /** The sequence output `[batch, length, 2H]` the head reads (position 0 only). */
  hiddenStates(ids: Tensor, options: ForwardOptions = {}): Tensor {
    return this.reformer.forward(ids, options);
  }

  /** int32 `ids` `[batch, length]` → logits `[batch, num_labels]`. */
  forward(ids: Tensor, options: ForwardOptions = {}): Tensor {
    return tidy(() => this.classifier.forward(this.reformer.forward(ids, options)));
  }

  /**
   * The loss of `config.problem_type` on `options.labels`. With `problem_type` null it is chosen now
   * (one label → `regression`; int32 labels → `single_label_classification`; else
   * `multi_label_classification`) and stored in the config, as Hugging Face does.
   */
  loss(ids: Tensor, options: ClassificationLossOptions): Tensor {
    const labels = (options as Partial<ClassificationLossOptions> | undefined)?.labels;
    if (labels === undefined) {
      throw new InvalidArgumentError(
        'ReformerForSequenceClassification.loss: options.labels is required (int32 [batch] classes, float32 [batch, num_labels] multi-hot, or float32 regression targets).',
      );
    }
    const problemType = this.config.problem_type ?? inferProblemType(this.numLabels, labels);
    checkClassificationLabels('ReformerForSequenceClassification.loss', ids.shape[0] ?? 0, this.numLabels, labels, problemType);
    this.config.problem_type = problemType;
    return tidy(() => sequenceClassificationLoss(this.forward(ids, options), labels, problemType));
  }
}
