import { Module, tidy, type Tensor, checkPaddingMask } from '@reformer/core';
import { checkHidden, type AttentionForwardOptions, type AttentionLayer, type ResolvedAttentionConfig } from './config.js';
import { AttentionOutput, projectionSeed, type ProjectionOptions } from './modules.js';

/**
 * What every attention layer of this package has in common: the resolved common configuration, the
 * input projections `self_attention` (of type `Projection`) and the output block `output`, created in
 * that order (so their seeds are drawn in that order), `forward = output(attend(hidden))`, and the
 * checks of a call's inputs. A subclass supplies `attend`.
 */
export abstract class AttentionLayerBase<Projection extends Module, Options extends AttentionForwardOptions = AttentionForwardOptions>
  extends Module
  implements AttentionLayer
{
  /** Size of the hidden states' last axis. */
  readonly hiddenSize: number;
  /** Number of heads. */
  readonly numHeads: number;
  /** Size of each head. */
  readonly headSize: number;
  /** Causal attention. */
  readonly causal: boolean;
  /** Attention-probability dropout rate (see each layer for where it is supported). */
  readonly attentionDropout: number;
  /** The input projections. */
  readonly self_attention: Projection;
  /** Output projection `dense` and output dropout. */
  readonly output: AttentionOutput;
  /** The layer's name in error messages of a call. */
  readonly #where: string;

  /**
   * Creates the projections (`self_attention`, then `output`) on the current backend from a config
   * already validated by `resolveAttentionConfig(name, …)`; `name` prefixes the errors of a call.
   */
  protected constructor(name: string, c: ResolvedAttentionConfig, projection: new (options: ProjectionOptions) => Projection) {
    super();
    this.#where = `${name}.forward`;
    this.hiddenSize = c.hiddenSize;
    this.numHeads = c.numHeads;
    this.headSize = c.headSize;
    this.causal = c.causal;
    this.attentionDropout = c.attentionDropout;
    const sizes = { hiddenSize: c.hiddenSize, allHeadSize: c.numHeads * c.headSize, initStd: c.initStd };
    this.self_attention = this.addModule('self_attention', new projection({ ...sizes, seed: projectionSeed(c.seed, 0) }));
    this.output = this.addModule('output', new AttentionOutput({ ...sizes, seed: projectionSeed(c.seed, 1), dropout: c.outputDropout }));
  }

  /** `hidden` `[batch, length, hiddenSize]` → `[batch, length, hiddenSize]`: `dropout(output.dense(attend(hidden, options)))`. */
  forward(hidden: Tensor, options?: Options): Tensor {
    return tidy(() => this.output.forward(this.attend(hidden, options)));
  }

  /** The attention output before `output.dense`, merged heads `[batch, length, numHeads·headSize]`. */
  abstract attend(hidden: Tensor, options?: Options): Tensor;

  /**
   * Checks the hidden states and the padding mask of a call and returns `[batch, length]`; throws
   * `ShapeMismatchError` / `DTypeError` naming the layer.
   */
  protected checkInputs(hidden: Tensor, mask: Tensor | undefined): [number, number] {
    const [batch, length] = checkHidden(this.#where, hidden, this.hiddenSize);
    checkPaddingMask(this.#where, mask, batch, length);
    return [batch, length];
  }
}
