import {
  DTypeError,
  Linear,
  Module,
  ShapeMismatchError,
  add,
  cast,
  concat,
  crossEntropy,
  customGrad,
  div,
  gradients,
  matmul,
  maximum,
  notEqual,
  scalar,
  slice,
  sum,
  tidy,
  zeros,
  zerosLike,
  type Tensor,
  type Variable,
  checkInteger,
  checkNonNegative,
} from '@reformer/core';
import { chunkBounds } from './util.js';

/** Options of {@link chunkedCrossEntropy} and {@link ChunkedLMHead.loss}. */
export interface ChunkedCrossEntropyOptions {
  /**
   * Causal-LM shift (Hugging Face `ForCausalLMLoss`): position t is scored against `labels[t + 1]`,
   * for t < length − 1. Default false (masked-LM style: position t against `labels[t]`).
   */
  shift?: boolean;
  /** Label value that is ignored (contributes nothing and is not counted by the mean). Default −100. */
  ignoreIndex?: number;
  /**
   * Positions per chunk along the sequence axis: an integer ≥ 0, 0 meaning all positions in one
   * chunk. Default 64. Only `[batch, chunkSize, V]` logits exist at a time.
   */
  chunkSize?: number;
  /** A `[V]` bias added to the logits (Hugging Face 4.x's tied `lm_head.bias`). Default: none. */
  bias?: Tensor;
}

/** Default positions per chunk of the LM head. */
export const DEFAULT_LM_HEAD_CHUNK_SIZE = 64;

/**
 * The mean cross-entropy of the logits `hidden · weightᵀ (+ bias)` against `labels`, computed chunk
 * by chunk over the sequence in the forward **and** in the backward, so the `[batch, length, V]`
 * logits (and their gradient) are never materialised: only one `[batch, chunkSize, V]` chunk exists
 * at a time.
 *
 * The value equals `crossEntropy(matmul(hidden, weight, false, true), labels, { ignoreIndex })`
 * (mean over the non-ignored labels; 0 when every label is ignored), with `shift` the causal
 * `mean over t < L − 1 of CE(logits[t], labels[t + 1])`. Gradients flow to `hidden`, `weight` and
 * `bias` (a core `customGrad` over them; the backward recomputes each chunk's logits).
 *
 * @param hidden - float32 `[..., length, D]` (usually `[batch, length, 2H]` in the Reformer).
 * @param weight - float32 `[V, D]` (`lm_head.decoder.weight`).
 * @param labels - int32 `[..., length]`, the shape of `hidden` without its last axis.
 * @param options - `shift`, `ignoreIndex` (−100), `chunkSize` (64; 0 = one chunk), `bias`.
 * @returns A scalar.
 * @throws ShapeMismatchError when `labels`, `weight` or `bias` do not fit `hidden`.
 * @throws DTypeError when `labels` is not int32 or `hidden`/`weight`/`bias` not float32.
 * @throws InvalidArgumentError when `chunkSize` is not an integer ≥ 0 or `ignoreIndex` not an integer.
 */
export function chunkedCrossEntropy(hidden: Tensor, weight: Tensor, labels: Tensor, options: ChunkedCrossEntropyOptions = {}): Tensor {
  const { shift = false, ignoreIndex = -100, chunkSize = DEFAULT_LM_HEAD_CHUNK_SIZE, bias } = options;
  const where = 'chunkedCrossEntropy';
  checkInteger(where, 'chunkSize', chunkSize, 0);
  checkInteger(where, 'ignoreIndex', ignoreIndex, -Infinity);
  for (const [name, t] of [
    ['hidden', hidden],
    ['weight', weight],
    ['bias', bias],
  ] as const) {
    if (t && t.dtype !== 'float32') throw new DTypeError(`${where}: ${name} must be float32, got ${t.dtype}.`);
  }
  if (labels.dtype !== 'int32') throw new DTypeError(`${where}: labels must be int32, got ${labels.dtype}. Use cast(labels, 'int32').`);
  if (hidden.rank < 2) throw new ShapeMismatchError(`${where}: hidden [${hidden.shape.join(', ')}] must be [..., length, D] (rank >= 2).`);
  const d = hidden.shape[hidden.rank - 1]!;
  const lead = hidden.shape.slice(0, -1);
  if (labels.rank !== lead.length || labels.shape.some((n, i) => n !== lead[i])) {
    throw new ShapeMismatchError(
      `${where}: labels [${labels.shape.join(', ')}] must have shape [${lead.join(', ')}] for hidden [${hidden.shape.join(', ')}].`,
    );
  }
  if (weight.rank !== 2 || weight.shape[1] !== d) {
    throw new ShapeMismatchError(
      `${where}: weight [${weight.shape.join(', ')}] must be [V, ${d}] for hidden [${hidden.shape.join(', ')}].`,
    );
  }
  const v = weight.shape[0]!;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== v)) {
    throw new ShapeMismatchError(`${where}: bias [${bias.shape.join(', ')}] must be [${v}] for weight [${weight.shape.join(', ')}].`);
  }

  const ax = hidden.rank - 2; // the sequence axis
  const length = hidden.shape[ax]!;
  const offset = shift ? 1 : 0;
  const positions = Math.max(0, length - offset); // scored positions t = 0..positions-1
  const bounds = chunkBounds(positions, chunkSize === 0 ? Math.max(positions, 1) : chunkSize);
  const along = (t: Tensor, start: number, size: number): Tensor =>
    slice(
      t,
      t.shape.map((_, i) => (i === ax ? start : 0)),
      t.shape.map((n, i) => (i === ax ? size : n)),
    );
  // Σ CE of one chunk (its logits exist only inside this call).
  const chunkLossSum = (h: Tensor, w: Tensor, b: Tensor | undefined, y: Tensor): Tensor =>
    tidy(() => {
      const z = matmul(h, w, false, true);
      return crossEntropy(b ? add(z, b) : z, y, { ignoreIndex, reduction: 'sum' });
    });
  // The number of scored, non-ignored labels, as a float32 scalar clamped to >= 1 (as core's mean).
  const denominator = (y: Tensor): Tensor =>
    tidy(() => {
      if (positions === 0) return scalar(1);
      const target = along(y, offset, positions);
      return maximum(sum(cast(notEqual(target, scalar(ignoreIndex, 'int32')), 'float32')), scalar(1));
    });

  const op = customGrad((...args: Tensor[]) => {
    const [h, w, y, b] = args as [Tensor, Tensor, Tensor, Tensor | undefined];
    const value = tidy(() => {
      let total = scalar(0);
      for (const [start, end] of bounds) {
        const part = chunkLossSum(along(h, start, end - start), w, b, along(y, start + offset, end - start));
        const next = add(total, part);
        total.dispose();
        part.dispose();
        total = next;
      }
      return div(total, denominator(y));
    });
    return {
      value,
      save: b ? [h, w, y, b] : [h, w, y],
      gradFunc: ([dLoss], saved) => {
        const [hs, ws, ys, bs] = saved as [Tensor, Tensor, Tensor, Tensor | undefined];
        const scale = tidy(() => div(dLoss!, denominator(ys)));
        const dhs: Tensor[] = [];
        let dw: Tensor | null = null;
        let db: Tensor | null = null;
        try {
          for (const [start, end] of bounds) {
            const grads = tidy(() => {
              const hc = along(hs, start, end - start);
              const yc = along(ys, start + offset, end - start);
              const wrt = bs ? [hc, ws, bs] : [hc, ws];
              const { value: part, grads: g } = gradients(() => chunkLossSum(hc, ws, bs, yc), wrt, scale);
              part.dispose();
              return g;
            });
            dhs.push(grads[0]!);
            dw = accumulate(dw, grads[1]!);
            if (bs) db = accumulate(db, grads[2]!);
          }
          if (offset > 0 || positions === 0) dhs.push(zeros(hs.shape.map((n, i) => (i === ax ? length - positions : n))));
          const dh = dhs.length === 1 ? dhs.pop()! : concat(dhs, ax);
          const grads: (Tensor | null)[] = [dh, dw ?? zerosLike(ws), null];
          if (bs) grads.push(db ?? zerosLike(bs));
          dw = null;
          db = null;
          return grads;
        } finally {
          scale.dispose();
          for (const t of dhs) t.dispose();
          (dw as Tensor | null)?.dispose();
          (db as Tensor | null)?.dispose();
        }
      },
    };
  });
  return (bias ? op(hidden, weight, labels, bias) : op(hidden, weight, labels)) as Tensor;
}

function accumulate(acc: Tensor | null, g: Tensor): Tensor {
  if (!acc) return g;
  const next = add(acc, g);
  acc.dispose();
  g.dispose();
  return next;
}

/** Options of {@link ChunkedLMHead}. */
export interface ChunkedLMHeadOptions {
  /** Width of the hidden states it reads (2·H in the Reformer: the two streams concatenated). */
  hiddenSize: number;
  /** Vocabulary size V. */
  vocabSize: number;
  /**
   * Positions per chunk of `loss` (Hugging Face `chunk_size_lm_head`): an integer ≥ 0, 0 meaning all
   * positions in one chunk. Default 64.
   */
  chunkSize?: number;
  /**
   * Whether the logits include `bias` (default false, as the current Hugging Face Reformer, whose
   * forward never uses `lm_head.bias`; true reproduces Hugging Face 4.x). The `bias` parameter exists
   * either way, so checkpoints load in both directions.
   */
  bias?: boolean;
  /** Initialise `decoder.weight` from N(0, initStd²) (Hugging Face: 0.02). Default: PyTorch's uniform init. */
  initStd?: number;
  /** Seed of the initial weights (default: drawn with `nextSeed()`). */
  seed?: number;
}

/**
 * The Reformer's language-model head (Hugging Face `ReformerOnlyLMHead`): `logits = hidden ·
 * decoder.weightᵀ` (plus `bias` when `bias: true`), and a training loss computed chunk by chunk so
 * the `[batch, length, V]` logits are never materialised.
 *
 * Parameters (Hugging Face names below `lm_head.`): `decoder.weight` `[V, hiddenSize]`, then `bias`
 * `[V]` (zeros).
 *
 * @example
 * ```ts
 * const head = new ChunkedLMHead({ hiddenSize: 512, vocabSize: 32000, chunkSize: 128 });
 * const loss = head.loss(hidden, labels, { shift: true }); // causal LM, logits never materialised
 * ```
 */
export class ChunkedLMHead extends Module {
  /** Width of the hidden states. */
  readonly hiddenSize: number;
  /** Vocabulary size. */
  readonly vocabSize: number;
  /** Whether the logits include `bias`. */
  readonly useBias: boolean;
  /** Linear hiddenSize → V without bias: `weight` `[V, hiddenSize]`. */
  readonly decoder: Linear;
  /** `[V]`, zeros; used only when `useBias`. */
  readonly bias: Variable;
  #chunkSize: number;

  /** Creates the head and its parameters on the current backend. */
  constructor(options: ChunkedLMHeadOptions) {
    super();
    const { hiddenSize, vocabSize, chunkSize = DEFAULT_LM_HEAD_CHUNK_SIZE, bias = false, initStd, seed } = options;
    checkInteger('ChunkedLMHead', 'hiddenSize', hiddenSize, 1);
    checkInteger('ChunkedLMHead', 'vocabSize', vocabSize, 1);
    checkInteger('ChunkedLMHead', 'chunkSize', chunkSize, 0);
    if (initStd !== undefined) checkNonNegative('ChunkedLMHead', 'initStd', initStd);
    this.hiddenSize = hiddenSize;
    this.vocabSize = vocabSize;
    this.useBias = bias;
    this.#chunkSize = chunkSize;
    this.decoder = this.addModule(
      'decoder',
      new Linear({
        inFeatures: hiddenSize,
        outFeatures: vocabSize,
        bias: false,
        init: initStd === undefined ? 'uniform' : { std: initStd },
        seed,
      }),
    );
    this.bias = this.addParameter('bias', zeros([vocabSize]));
  }

  /** Positions per chunk of `loss` (0: one chunk). Settable; must be an integer ≥ 0. */
  get chunkSize(): number {
    return this.#chunkSize;
  }

  set chunkSize(value: number) {
    checkInteger('ChunkedLMHead', 'chunkSize', value, 0);
    this.#chunkSize = value;
  }

  /** `hidden` `[..., hiddenSize]` → logits `[..., V]` (materialised: for inference). */
  forward(hidden: Tensor): Tensor {
    if (hidden.rank < 1 || hidden.shape[hidden.rank - 1] !== this.hiddenSize) {
      throw new ShapeMismatchError(
        `ChunkedLMHead.forward: hidden [${hidden.shape.join(', ')}] must end with hiddenSize = ${this.hiddenSize}.`,
      );
    }
    const z = this.decoder.forward(hidden);
    if (!this.useBias) return z;
    const out = add(z, this.bias);
    z.dispose();
    return out;
  }

  /**
   * Mean cross-entropy of the logits against `labels` without materialising the logits (see
   * {@link chunkedCrossEntropy}); `shift: true` for a causal LM.
   * @param hidden - float32 `[..., length, hiddenSize]`.
   * @param labels - int32 `[..., length]`.
   * @param options - `shift` (false), `ignoreIndex` (−100), `chunkSize` (the head's).
   */
  loss(hidden: Tensor, labels: Tensor, options: Omit<ChunkedCrossEntropyOptions, 'bias'> = {}): Tensor {
    return chunkedCrossEntropy(hidden, this.decoder.weight, labels, {
      ...options,
      chunkSize: options.chunkSize ?? this.#chunkSize,
      bias: this.useBias ? this.bias : undefined,
    });
  }
}
