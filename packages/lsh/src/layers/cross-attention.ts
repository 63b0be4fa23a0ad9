import {
  DTypeError,
  Linear,
  Module,
  ShapeMismatchError,
  formatShape,
  ones,
  pad,
  slice,
  tidy,
  type Tensor,
  checkInteger,
  checkPaddingMask,
  checkRate,
} from '@reformer/core';
import { fullAttention } from '../full-attention.js';
import { checkAttentionTensor } from '../validate.js';
import { checkHidden } from './config.js';
import { AttentionOutput, mergeHeads, projectionSeed, projectHeads, weightInit } from './modules.js';

/** Options of {@link crossAttention}. */
export interface CrossAttentionFnOptions {
  /** Padding mask of the keys, int32 `[batch, keyLength]`: 1 = real, 0 = never attended. */
  mask?: Tensor;
  /** Queries per block (at most `queryChunk × keyLength` logits at once on backends that form them). Default: dense. */
  queryChunk?: number;
  /** Logit scale (default `1/√dHead`). */
  scale?: number;
}

/**
 * Attention of `q` `[batch, heads, queryLength, d]` over keys `k` `[batch, heads, keyLength, d]` and
 * values `v` `[batch, heads, keyLength, dv]` of another sequence (encoder–decoder attention): softmax of
 * `scale · q·k` over every key (no causality; masked keys' logits replaced by −1e9), times `v`.
 *
 * It runs on the fused chunked-attention kernel through {@link fullAttention}, so it has that kernel's
 * numerics on every backend and its memory bound with `queryChunk`: the shorter of the two sequences is
 * padded to the longer one's length (padded keys masked, padded queries' outputs dropped). The cost
 * is therefore `max(queryLength, keyLength)²` rather than `queryLength · keyLength` — equal when the
 * lengths are equal, as in sequence-to-sequence training on same-length pairs.
 *
 * @returns `[batch, heads, queryLength, dv]`, differentiable in `q`, `k` and `v`.
 * @throws {ShapeMismatchError} when batch, heads or head size disagree, or the mask is not `[batch, keyLength]`.
 * @throws {DTypeError} for non-float32 inputs or a non-int32 mask.
 * @throws {InvalidArgumentError} for `queryChunk` < 1.
 */
export function crossAttention(q: Tensor, k: Tensor, v: Tensor, options: CrossAttentionFnOptions = {}): Tensor {
  const fn = 'crossAttention';
  const [B, H, Lq, d] = checkAttentionTensor(fn, 'q', q);
  const [kB, kH, Lk, kd] = checkAttentionTensor(fn, 'k', k);
  const [vB, vH, vL] = checkAttentionTensor(fn, 'v', v);
  if (kB !== B || kH !== H || kd !== d) {
    throw new ShapeMismatchError(`${fn}: k ${formatShape(k.shape)} must match q ${formatShape(q.shape)} in batch, heads and head size.`);
  }
  if (vB !== B || vH !== H || vL !== Lk) {
    throw new ShapeMismatchError(`${fn}: v ${formatShape(v.shape)} must be [${B}, ${H}, ${Lk}, dv] like k ${formatShape(k.shape)}.`);
  }
  checkPaddingMask(fn, options.mask, B, Lk);
  if (options.queryChunk !== undefined) checkInteger(fn, 'queryChunk', options.queryChunk, 1);
  const base = {
    scale: options.scale ?? 1 / Math.sqrt(d),
    ...(options.queryChunk !== undefined ? { queryChunk: options.queryChunk } : {}),
  };
  if (Lq === Lk) return fullAttention(q, k, v, { ...base, ...(options.mask !== undefined ? { mask: options.mask } : {}) });
  return tidy(() => {
    const N = Math.max(Lq, Lk);
    const padTo = (t: Tensor, L: number) =>
      L === N
        ? t
        : pad(
            t,
            [
              [0, 0],
              [0, 0],
              [0, N - L],
              [0, 0],
            ],
            0,
          );
    const mask =
      Lk === N
        ? options.mask
        : pad(
            options.mask ?? ones([B, Lk], 'int32'),
            [
              [0, 0],
              [0, N - Lk],
            ],
            0,
          );
    const out = fullAttention(padTo(q, Lq), padTo(k, Lk), padTo(v, Lk), { ...base, ...(mask !== undefined ? { mask } : {}) });
    return Lq === N ? out : slice(out, [0, 0, 0, 0], [B, H, Lq, v.shape[3]!]);
  });
}

/** Configuration of {@link CrossAttention}. */
export interface CrossAttentionConfig {
  /** Width of the queries' hidden states, and of the output (`hidden_size`). */
  hiddenSize: number;
  /** Width of the attended sequence's states (the encoder output); default `hiddenSize`. */
  contextSize?: number;
  /** Number of heads. */
  numHeads: number;
  /** Size of each head. */
  headSize: number;
  /** Queries per block of the attention (bounds its logits to `queryChunk × contextLength`); default: dense. */
  queryChunk?: number;
  /** Dropout after the output projection; default 0. */
  outputDropout?: number;
  /** Standard deviation of the normal initial weights; default PyTorch's `nn.Linear` uniform init. */
  initStd?: number;
  /** Seed of the initial weights (default: `nextSeed()` per projection). */
  seed?: number;
}

/** Per-call options of {@link CrossAttention}. */
export interface CrossAttentionOptions {
  /** Padding mask of the context, int32 `[batch, contextLength]`: 1 = real token, 0 = padding (never attended). */
  contextMask?: Tensor;
}

/** The context's keys and values, heads split: `[batch, numHeads, contextLength, headSize]` each. */
export interface ProjectedContext {
  /** Keys. */
  keys: Tensor;
  /** Values. */
  values: Tensor;
}

/**
 * Encoder–decoder (cross) attention, with the conventions of this package's attention layers:
 * queries from the hidden states `[batch, length, hiddenSize]`, keys and values from a context
 * `[batch, contextLength, contextSize]` (the encoder output), `query`, `key`, `value` projections
 * without bias, logits `q·k/√headSize` over every context position (padding masked with −1e9, no
 * causality), merged heads, `output.dense`, output dropout. The attention runs on the fused kernel
 * ({@link crossAttention}); `queryChunk` bounds its memory.
 *
 * `namedParameters()`: `query.weight` `[numHeads·headSize, hiddenSize]`, `key.weight` and
 * `value.weight` `[numHeads·headSize, contextSize]`, `output.dense.weight`.
 *
 * For decoding, {@link CrossAttention.projectContext} projects the context once and
 * {@link CrossAttention.attendProjected} attends new queries over it.
 *
 * @example
 * ```ts
 * const cross = new CrossAttention({ hiddenSize: 64, contextSize: 128, numHeads: 4, headSize: 16 });
 * const y = cross.forward(decoderStates, encoderOutput, { contextMask }); // [batch, length, 64]
 * ```
 */
export class CrossAttention extends Module {
  /** Width of the queries' hidden states and of the output. */
  readonly hiddenSize: number;
  /** Width of the context. */
  readonly contextSize: number;
  /** Number of heads. */
  readonly numHeads: number;
  /** Size of each head. */
  readonly headSize: number;
  /** Queries per block, or undefined for dense attention. */
  readonly queryChunk: number | undefined;
  /** Query projection. */
  readonly query: Linear;
  /** Key projection (from the context). */
  readonly key: Linear;
  /** Value projection (from the context). */
  readonly value: Linear;
  /** Output projection `dense` and output dropout. */
  readonly output: AttentionOutput;

  /** Creates the layer and its parameters on the current backend; throws `InvalidArgumentError` on a bad config. */
  constructor(config: CrossAttentionConfig) {
    super();
    const where = 'CrossAttention';
    this.hiddenSize = checkInteger(where, 'hiddenSize', config.hiddenSize, 1);
    this.contextSize = checkInteger(where, 'contextSize', config.contextSize ?? config.hiddenSize, 1);
    this.numHeads = checkInteger(where, 'numHeads', config.numHeads, 1);
    this.headSize = checkInteger(where, 'headSize', config.headSize, 1);
    this.queryChunk = config.queryChunk === undefined ? undefined : checkInteger(where, 'queryChunk', config.queryChunk, 1);
    const dropout = checkRate(where, 'outputDropout', config.outputDropout ?? 0);
    const seed = config.seed === undefined ? undefined : checkInteger(where, 'seed', config.seed, 0);
    const init = weightInit(config.initStd);
    const all = this.numHeads * this.headSize;
    const linear = (inFeatures: number, i: number) =>
      new Linear({ inFeatures, outFeatures: all, bias: false, init, seed: projectionSeed(seed, i) });
    this.query = this.addModule('query', linear(this.hiddenSize, 0));
    this.key = this.addModule('key', linear(this.contextSize, 1));
    this.value = this.addModule('value', linear(this.contextSize, 2));
    this.output = this.addModule(
      'output',
      new AttentionOutput({
        hiddenSize: this.hiddenSize,
        allHeadSize: all,
        initStd: config.initStd,
        seed: projectionSeed(seed, 3),
        dropout,
      }),
    );
  }

  /** `hidden` `[batch, length, hiddenSize]` attending over `context` → `[batch, length, hiddenSize]`. */
  forward(hidden: Tensor, context: Tensor, options: CrossAttentionOptions = {}): Tensor {
    return tidy(() => this.output.forward(this.attend(hidden, context, options)));
  }

  /** The attention output before `output.dense`: merged heads `[batch, length, numHeads·headSize]`. */
  attend(hidden: Tensor, context: Tensor, options: CrossAttentionOptions = {}): Tensor {
    this.#checkContext('CrossAttention.attend', hidden, context, options.contextMask);
    return tidy(() => {
      const { keys, values } = this.projectContext(context);
      return this.attendProjected(hidden, keys, values, options);
    });
  }

  /** The context's keys and values, heads split (computed once per context when decoding). */
  projectContext(context: Tensor): ProjectedContext {
    checkContextStates('CrossAttention.projectContext', context, this.contextSize);
    return tidy(() => ({
      keys: projectHeads(this.key, context, this.numHeads, this.headSize),
      values: projectHeads(this.value, context, this.numHeads, this.headSize),
    }));
  }

  /** Merged heads `[batch, length, numHeads·headSize]` of `hidden`'s queries over projected keys and values. */
  attendProjected(hidden: Tensor, keys: Tensor, values: Tensor, options: CrossAttentionOptions = {}): Tensor {
    checkHidden('CrossAttention.attendProjected', hidden, this.hiddenSize);
    return tidy(() => {
      const q = projectHeads(this.query, hidden, this.numHeads, this.headSize);
      const out = crossAttention(q, keys, values, {
        scale: 1 / Math.sqrt(this.headSize),
        ...(options.contextMask !== undefined ? { mask: options.contextMask } : {}),
        ...(this.queryChunk !== undefined ? { queryChunk: this.queryChunk } : {}),
      });
      return mergeHeads(out);
    });
  }

  #checkContext(where: string, hidden: Tensor, context: Tensor, mask: Tensor | undefined): void {
    const [batch] = checkHidden(where, hidden, this.hiddenSize);
    const [cBatch, cLength] = checkContextStates(where, context, this.contextSize);
    if (cBatch !== batch) {
      throw new ShapeMismatchError(`${where}: the context ${formatShape(context.shape)} must have the hidden states' batch size ${batch}.`);
    }
    checkPaddingMask(where, mask, cBatch, cLength);
  }
}

/** Checks a context: float32 `[batch, length, contextSize]`, batch and length ≥ 1. */
function checkContextStates(where: string, context: Tensor, contextSize: number): [number, number] {
  if (context.dtype !== 'float32') throw new DTypeError(`${where}: the context (encoder output) must be float32, got ${context.dtype}.`);
  if (context.rank !== 3 || context.shape[2] !== contextSize || context.shape[0]! < 1 || context.shape[1]! < 1) {
    throw new ShapeMismatchError(
      `${where}: the context (encoder output) must be [batch, length, contextSize = ${contextSize}], got ${formatShape(context.shape)}.`,
    );
  }
  return [context.shape[0]!, context.shape[1]!];
}
