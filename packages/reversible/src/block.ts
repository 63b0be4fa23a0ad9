import { InvalidArgumentError, Module, ShapeMismatchError, add, formatShape, tidy, type Tensor } from '@reformer/core';

/**
 * A sub-layer of a reversible block (`f` or `g`): anything with a `forward(x, options?)` that returns
 * a tensor of `x`'s shape, and a `parameters()` list — normally a core `Module` (a pre-LayerNorm
 * attention or feed-forward layer).
 *
 * Every tensor the sub-layer needs a gradient for must be among its `parameters()`: the reversible
 * backward differentiates with respect to exactly those. Randomness must come from `nextSeed()` (core
 * `Dropout` does) and non-differentiable state that a recompute must see unchanged (LSH buckets, sampled
 * indices) from `replayable()`; both are then replayed exactly in the backward pass.
 *
 * @typeParam O - the per-call options the sub-layer accepts (e.g. `{ mask }`).
 */
export interface SubLayer<O = unknown> {
  /** `x` `[..., d]` → a tensor of the same shape. */
  forward(x: Tensor, options?: O): Tensor;
  /** The tensors to differentiate with respect to. */
  parameters(): Tensor[];
}

/** Child names of a {@link ReversibleBlock} (for checkpoint-compatible parameter names). */
export interface ReversibleBlockNames {
  /** Name of `f` among the block's children (default `'f'`; Hugging Face: `'attention'`). */
  f?: string;
  /** Name of `g` among the block's children (default `'g'`; Hugging Face: `'feed_forward'`). */
  g?: string;
}

/** Throws the named error for a sub-layer that changed the shape of its input. @internal */
export function checkSubLayerShape(where: string, index: number | null, which: 'f' | 'g', input: Tensor, output: Tensor): void {
  if (output.rank !== input.rank || output.shape.some((d, i) => d !== input.shape[i])) {
    throw new ShapeMismatchError(
      `${where}: ${index === null ? '' : `block ${index}: `}${which} changed the shape of its input from ${formatShape(input.shape)} to ${formatShape(output.shape)}; ` +
        'f and g of a reversible block must return a tensor of their input shape.',
    );
  }
}

/** Throws the named error unless `x1` and `x2` are tensors of the same shape. @internal */
export function checkHalves(where: string, x1: unknown, x2: unknown): asserts x1 is Tensor {
  const isTensor = (t: unknown): t is Tensor => typeof t === 'object' && t !== null && 'shape' in t && 'dtype' in t && 'id' in t;
  if (!isTensor(x1) || !isTensor(x2)) throw new InvalidArgumentError(`${where}: x1 and x2 must be tensors.`);
  if (x1.rank !== x2.rank || x1.shape.some((d, i) => d !== x2.shape[i])) {
    throw new ShapeMismatchError(
      `${where}: the two halves must have the same shape, got x1 ${formatShape(x1.shape)} and x2 ${formatShape(x2.shape)}.`,
    );
  }
}

function isModule(x: unknown): x is Module {
  return x instanceof Module;
}

function checkSubLayer(where: string, which: string, layer: unknown): void {
  const l = layer as Partial<SubLayer> | null;
  if (typeof l !== 'object' || l === null || typeof l.forward !== 'function' || typeof l.parameters !== 'function') {
    throw new InvalidArgumentError(`${where}: ${which} must have forward(x, options?) and parameters() (a core Module).`);
  }
}

/**
 * One reversible residual block (Gomez et al. 2017; Kitaev et al. 2020): two halves `(x1, x2)` map to
 *
 * ```
 * y1 = x1 + f(x2)
 * y2 = x2 + g(y1)
 * ```
 *
 * which can be inverted exactly: `x2 = y2 − g(y1)`, `x1 = y1 − f(x2)`. In the Reformer, `f` is the
 * (pre-LayerNorm) attention and `g` the (pre-LayerNorm) feed-forward.
 *
 * The block is a core `Module`: `f` and `g` are registered as children under the names given (default
 * `f` and `g`), so a model can give Hugging Face's names:
 * `new ReversibleBlock(attention, feedForward, { f: 'attention', g: 'feed_forward' })` has parameters
 * `attention.…` and `feed_forward.…`. A sub-layer that is not a core `Module` (a plain object with
 * `forward` and `parameters`) is accepted and differentiated, but is not part of the block's
 * `namedParameters()`, `stateDict()` or `train()`/`eval()`.
 *
 * Run blocks through a {@link ReversibleSequence}, which stores no activations; {@link
 * ReversibleBlock.forward} is the plain (non-reversible) residual computation of one block.
 *
 * @typeParam O - the per-call options passed to `f` and `g`.
 */
export class ReversibleBlock<O = unknown> extends Module {
  /** The first sub-layer: `y1 = x1 + f(x2)`. */
  readonly f: SubLayer<O>;
  /** The second sub-layer: `y2 = x2 + g(y1)`. */
  readonly g: SubLayer<O>;
  /** The child names of `f` and `g`. */
  readonly names: { readonly f: string; readonly g: string };

  /**
   * Creates the block; throws `InvalidArgumentError` if `f` or `g` lacks `forward`/`parameters`, or the
   * names are invalid or equal.
   */
  constructor(f: SubLayer<O>, g: SubLayer<O>, names: ReversibleBlockNames = {}) {
    super();
    checkSubLayer('ReversibleBlock', 'f', f);
    checkSubLayer('ReversibleBlock', 'g', g);
    const fName = names.f ?? 'f';
    const gName = names.g ?? 'g';
    this.f = f;
    this.g = g;
    this.names = Object.freeze({ f: fName, g: gName });
    if (isModule(f)) this.addModule(fName, f);
    if (isModule(g)) this.addModule(gName, g);
  }

  /**
   * Every tensor the block is differentiated with respect to: `f.parameters()` then `g.parameters()`,
   * each once. Unlike `parameters()` (the registered variables), this includes the parameters of
   * sub-layers that are not core Modules.
   */
  gradientParameters(): Tensor[] {
    return uniqueTensors([...this.f.parameters(), ...this.g.parameters()]);
  }

  /**
   * The plain residual computation `[x1 + f(x2), x2 + g(y1)]` through ordinary autograd (every
   * intermediate is kept by an enclosing `gradients` tape). Randomness is drawn from the current seed
   * stream. Throws `ShapeMismatchError` if the halves differ in shape or `f`/`g` changes it.
   */
  forward(x1: Tensor, x2: Tensor, options?: O): [Tensor, Tensor] {
    checkHalves('ReversibleBlock.forward', x1, x2);
    return tidy(() => {
      const fx = callSubLayer(this.f, x2, options);
      checkSubLayerShape('ReversibleBlock.forward', null, 'f', x2, fx);
      const y1 = add(x1, fx);
      const gy = callSubLayer(this.g, y1, options);
      checkSubLayerShape('ReversibleBlock.forward', null, 'g', y1, gy);
      return [y1, add(x2, gy)] as [Tensor, Tensor];
    });
  }
}

/** Calls a sub-layer, passing `options` only when given. @internal */
export function callSubLayer<O>(layer: SubLayer<O>, x: Tensor, options: O | undefined): Tensor {
  return options === undefined ? layer.forward(x) : layer.forward(x, options);
}

/** The tensors of `list`, each once, in first-seen order. @internal */
export function uniqueTensors(list: readonly Tensor[]): Tensor[] {
  return [...new Set(list)];
}
