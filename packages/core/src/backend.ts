import type { AttentionDropout } from './attention-dropout.js';
import type { DType, Shape, TypedArray } from './types.js';

/**
 * What a kernel sees of a tensor: the backend's own storage handle plus shape and dtype.
 * Storage is row-major and contiguous. Kernels never mutate their inputs.
 */
export interface KernelTensor<S = unknown> {
  /** The backend's storage handle (a typed array on CPU, a GPU buffer on WebGPU, ...). */
  readonly storage: S;
  readonly shape: Shape;
  readonly dtype: DType;
}

/** Element-wise functions of one argument. `relu` and `gelu` (exact, erf-based) are the activations. */
export type UnaryOp =
  | 'neg'
  | 'abs'
  | 'sign'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'rsqrt'
  | 'square'
  | 'reciprocal'
  | 'tanh'
  | 'sigmoid'
  | 'erf'
  | 'sin'
  | 'cos'
  | 'floor'
  | 'ceil'
  | 'round'
  | 'relu'
  | 'gelu';

/** Unary ops that also accept int32 (result int32). The rest need float32. */
export const INT_UNARY_OPS: ReadonlySet<UnaryOp> = new Set<UnaryOp>(['neg', 'abs', 'sign', 'square']);

/** Arithmetic binary ops: the result has the inputs' dtype. `mod` and `floorDiv` round toward −∞. */
export type ArithmeticOp = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum' | 'mod' | 'floorDiv';

/** Comparison ops: the result is int32, 1 where true and 0 where false. */
export type CompareOp = 'equal' | 'notEqual' | 'less' | 'lessEqual' | 'greater' | 'greaterEqual';

/** Every {@link CompareOp}: the one list backends and checks consult. */
export const COMPARE_OPS: readonly CompareOp[] = ['equal', 'notEqual', 'less', 'lessEqual', 'greater', 'greaterEqual'];

/** Whether a binary op is a comparison (its result is int32 0/1, whatever the inputs' dtype). */
export function isCompareOp(op: string): op is CompareOp {
  return (COMPARE_OPS as readonly string[]).includes(op);
}

/** Every binary op. Inputs have the same dtype and broadcast as NumPy does. */
export type BinaryOp = ArithmeticOp | CompareOp;

/** Reductions over a set of axes. */
export type ReduceOp = 'sum' | 'max' | 'min';

/** Activations with a fused backward kernel. */
export type ActivationOp = 'relu' | 'gelu';

/** Live storage accounting of a backend, exact (not process RSS). */
export interface BackendMemory {
  /** Bytes of tensor storage alive now. */
  liveBytes: number;
  /** Most `liveBytes` seen since the backend started or since the last `resetPeak()`. */
  peakBytes: number;
  /** Number of live storage allocations (several tensors may share one, e.g. after `reshape`). */
  liveBuffers: number;
  /** Backend-specific extras (pooled bytes on WebGPU, ...). */
  [extra: string]: number;
}

/**
 * Options of the chunked-attention kernel (the rules: docs/architecture.md, "Attention rules";
 * executable in `attention-rules.ts` and core's composite, `composite/attention.ts`).
 *
 * The sequence axis of `q`, `k`, `v` (length N) is cut into N / chunkLength chunks of consecutive
 * slots. The queries of chunk n attend to the keys of chunks n − chunksBefore … n + chunksAfter,
 * concatenated in that order, with chunk indices taken modulo the number of chunks (wrap-around, as
 * trax and Hugging Face do; a chunk that occurs twice in a window is attended twice).
 *
 * Each logit is `scale · q·k`, then REPLACED (not added to) by:
 *  1. `−1e9` where the key is not allowed: `causal` and `pos[key] > pos[query]`, or `keyMask` is 0 at
 *     the key's position, or `buckets` given and the key's bucket differs from the query's;
 *  2. `−1e5` where `excludeSelf` and `pos[key] == pos[query]` (this overrides rule 1).
 *
 * The kernel returns the attention output and the per-query logsumexp of the logits (float32). It never
 * holds more than one chunk-pair of logits at a time.
 */
export interface ChunkedAttentionParams<S = unknown> extends ChunkedAttentionRules {
  /**
   * Original position of each slot, int32 `[batch, heads, N]` (after an LSH sort). When absent the
   * position of slot i is i.
   */
  positions?: KernelTensor<S> | undefined;
  /**
   * Padding mask, int32 `[batch, L]`, indexed by position: 0 marks a key that must not be attended.
   * The ops layer has checked (through `gather`) that every position lies in `[0, L)`.
   */
  keyMask?: KernelTensor<S> | undefined;
  /** Bucket id of each slot, int32 `[batch, heads, N]`: keys of another bucket are not allowed. */
  buckets?: KernelTensor<S> | undefined;
  /**
   * `q`, `k` and `v` hold one row per position (`[batch, heads, L, ·]`, L their own length) instead of
   * one per slot: slot i uses row `positions[i]` (given, every value in `[0, L)`) of each, so an LSH
   * sort needs no sorted copies. `out` and `lse` stay in slot order (`[batch, heads, N, ·]`). Core
   * passes it only to a backend whose `attentionByPosition` is true (and gathers the rows itself for
   * the others); the backward kernel always receives slot-ordered rows.
   */
  byPosition?: boolean | undefined;
  /**
   * Dropout on the probabilities `p = exp(s − lse)` (after normalisation, before `· v`; `lse` is not
   * affected): the probability of query slot i on a window key is multiplied by `1/(1 − rate)` or 0,
   * as `attentionDropoutFactor(rate, seed, b, h, ⌊i / roundLength⌋, pos[i], pos[key])` says (see
   * `attention-dropout.ts`; nothing is stored, the backward recomputes the same factors). The backward
   * then uses `dv += p·z·dOut` and `ds = p·(z·dOut·v − dOut·out + dLse)` with z that factor.
   */
  dropout?: AttentionDropout | undefined;
}

/**
 * The window and masking rules of chunked attention, as numbers and switches (the one definition of
 * these fields: {@link ChunkedAttentionParams} adds the tensors, the CPU kernel and the conformance
 * suite's problems their host arrays).
 */
export interface ChunkedAttentionRules {
  /** Slots per chunk; must divide the sequence length N. */
  chunkLength: number;
  /** Neighbour chunks before each chunk in its window (default in layers: 1). */
  chunksBefore: number;
  /** Neighbour chunks after each chunk in its window (default in layers: 0). */
  chunksAfter: number;
  /** Mask keys whose position is after the query's position. */
  causal: boolean;
  /** Give a query's own position the logit −1e5 (LSH attention; shared QK). */
  excludeSelf: boolean;
  /** Multiplies every logit before masking. */
  scale: number;
}

/**
 * The optional members of {@link Backend}: fused kernels that a backend may implement to go faster.
 * Where one is absent, core runs its composite of the same kernel built from the primitives.
 */
export const FUSED_KERNELS = [
  'softmax',
  'logSumExp',
  'signedArgMax',
  'layerNorm',
  'layerNormBackward',
  'activationBackward',
  'crossEntropy',
  'crossEntropyBackward',
  'chunkedAttention',
  'chunkedAttentionBackward',
] as const;

/** The name of one optional fused kernel of {@link Backend}. */
export type FusedKernelName = (typeof FUSED_KERNELS)[number];

/** The logit a query gives to its own position when `excludeSelf` is on. */
export const SELF_LOGIT = -1e5;
/** The logit of a key that is not allowed (causal, padding, other bucket). */
export const MASKED_LOGIT = -1e9;

/**
 * The contract every backend implements: storage plus a small set of kernels. Everything else in the
 * library (ops, gradients, attention, models) is written on top of it, so a backend that passes the
 * conformance suite (`@reformer/core/testing`) runs every package.
 *
 * The kernels come in two kinds:
 * - **Primitives** (required): storage, element-wise (`fill`, `unary`, `binary`, `where`, `cast`),
 *   reductions (`reduce`, `argMax`, `argSort`), `matmul` and layout (`transpose`, `slice`, `concat`,
 *   `pad`, `gather`, `scatterAdd`). A backend with only these runs every package.
 * - **Fused kernels** (optional accelerations, {@link FUSED_KERNELS}): `softmax`, `logSumExp`,
 *   `signedArgMax`, `layerNorm`, `layerNormBackward`, `activationBackward`, `crossEntropy`, `crossEntropyBackward`,
 *   `chunkedAttention`, `chunkedAttentionBackward`. Where a backend lacks one, the ops layer runs
 *   core's composite of it (`src/composite/`), written once in terms of the primitives with the same
 *   numerics (float32 logsumexp, masks that replace logits, attention memory bounded per chunk
 *   group). The composite attention is the executable definition of the attention rules.
 *
 * To add a backend: implement the primitives and run `backendConformance` (and `backendParity` of
 * `@reformer/model/testing`) until both pass; then add fused kernels one at a time, rerunning the
 * suites after each (a fused kernel is checked against the same oracles as its composite).
 *
 * Shapes handed to kernels are already validated by the ops layer, and output shapes are computed
 * there too where they are not obvious (`outShape`). Kernels return new storage; inputs are never
 * written. Reshape is free (the core shares storage), so there is no reshape kernel.
 *
 * @typeParam S - the backend's storage handle type.
 */
export interface Backend<S = unknown> {
  /** A short name: `cpu`, `webgpu`, `tfjs-wasm`, ... */
  readonly name: string;

  // ---- storage ----
  /** Copies host values into new storage. */
  write(values: TypedArray, dtype: DType): S;
  /** Reads storage back to the host (a fresh array the caller owns). */
  read(storage: S, dtype: DType, size: number): Promise<TypedArray>;
  /** Synchronous read, only where the backend can (CPU). */
  readSync?(storage: S, dtype: DType, size: number): TypedArray;
  /** Releases storage. Called exactly once per `write`/kernel output, when no tensor uses it. */
  free(storage: S): void;
  /** Exact live and peak bytes of tensor storage. */
  memory(): BackendMemory;
  /** Sets `peakBytes` to the current `liveBytes`. */
  resetPeak(): void;
  /**
   * The most bytes one allocation (a tensor's storage, or a kernel's working buffer such as a chunk pair
   * of attention logits) may take on this backend. Functions whose sizes come from user input check
   * against it with `checkAllocation` before allocating, and fail with `AllocationTooLargeError`.
   * Omitted: `DEFAULT_MAX_ALLOCATION_BYTES` (4 GiB). Backends derive it from their real limits (typed
   * arrays, the WebGPU device's buffer limits) and let users set it.
   */
  readonly maxAllocationBytes?: number;
  /** Waits until queued work is done (GPU backends); resolves at once elsewhere. */
  sync?(): Promise<void>;
  /** Releases every resource of the backend. */
  dispose?(): void;

  // ---- element-wise ----
  /** A tensor of `shape` filled with `value`. */
  fill(shape: Shape, value: number, dtype: DType): KernelTensor<S>;
  unary(op: UnaryOp, x: KernelTensor<S>): KernelTensor<S>;
  /** `a op b` with NumPy broadcasting to `outShape`. */
  binary(op: BinaryOp, a: KernelTensor<S>, b: KernelTensor<S>, outShape: Shape): KernelTensor<S>;
  /** `cond ? a : b` (cond int32, nonzero = true), broadcast to `outShape`. */
  where(cond: KernelTensor<S>, a: KernelTensor<S>, b: KernelTensor<S>, outShape: Shape): KernelTensor<S>;
  /** Converts dtype; float → int truncates toward zero. */
  cast(x: KernelTensor<S>, dtype: DType): KernelTensor<S>;

  // ---- reductions ----
  /** Reduces over `axes` (sorted, distinct); the reduced axes are removed from the shape. */
  reduce(op: ReduceOp, x: KernelTensor<S>, axes: readonly number[]): KernelTensor<S>;
  /** Index of the first maximum along `axis` (removed from the shape), int32. */
  argMax(x: KernelTensor<S>, axis: number): KernelTensor<S>;
  /** Stable ascending argsort along the last axis, int32, same shape. */
  argSort(x: KernelTensor<S>): KernelTensor<S>;

  // ---- matmul ----
  /**
   * Batched matrix product: `a` `[..., M, K]` (or `[..., K, M]` if `transposeA`), `b` `[..., K, N]`
   * (or `[..., N, K]` if `transposeB`); leading batch axes broadcast to `outShape` `[..., M, N]`.
   * Both inputs have rank >= 2.
   */
  matmul(a: KernelTensor<S>, b: KernelTensor<S>, transposeA: boolean, transposeB: boolean, outShape: Shape): KernelTensor<S>;

  // ---- layout ----
  /** Permutes axes: output axis i is input axis `perm[i]`. */
  transpose(x: KernelTensor<S>, perm: readonly number[]): KernelTensor<S>;
  /** The box `begin[i] .. begin[i] + size[i]` of every axis. */
  slice(x: KernelTensor<S>, begin: readonly number[], size: readonly number[]): KernelTensor<S>;
  /** Joins tensors along `axis`; all other axes agree. */
  concat(xs: readonly KernelTensor<S>[], axis: number): KernelTensor<S>;
  /** Pads every axis with `paddings[i] = [before, after]` copies of `value`. */
  pad(x: KernelTensor<S>, paddings: readonly (readonly [number, number])[], value: number): KernelTensor<S>;
  /**
   * Batched gather: `indices` int32 has shape `x.shape[0..axis) + [n]`;
   * `out[..., j, ...rest] = x[..., indices[..., j], ...rest]`, shape `x.shape[0..axis) + [n] + x.shape(axis..]`.
   */
  gather(x: KernelTensor<S>, indices: KernelTensor<S>, axis: number): KernelTensor<S>;
  /**
   * The adjoint of `gather`: output shape `updates.shape` with axis `axis` replaced by `size`, zero
   * except `out[..., indices[..., j], ...rest] += updates[..., j, ...rest]`.
   */
  scatterAdd(updates: KernelTensor<S>, indices: KernelTensor<S>, axis: number, size: number): KernelTensor<S>;

  // ---- fused kernels (optional: core's composites in src/composite/ run where one is missing) ----
  /**
   * True when `chunkedAttention` reads q, k and v by position (`ChunkedAttentionParams.byPosition`).
   * Where it is not, core gathers the rows into slot order first (the same result, with full-size
   * sorted copies).
   */
  readonly attentionByPosition?: boolean;
  /** Softmax over the last axis. */
  softmax?(x: KernelTensor<S>): KernelTensor<S>;
  /** `log Σ exp` over the last axis (removed from the shape), stable (max-shifted). */
  logSumExp?(x: KernelTensor<S>): KernelTensor<S>;
  /**
   * `argMax` of `[x, −x]` (concatenated along the last axis) over that axis, which is removed: `i`
   * where `x[i]` is the first maximum, `n + i` where `−x[i]` is (n = the last axis' length), by the
   * rules of `argMax` (float32 `x`).
   */
  signedArgMax?(x: KernelTensor<S>): KernelTensor<S>;
  /**
   * Layer norm over the last axis: `(x − mean) · rstd · gamma + beta`, `rstd = 1/√(var + eps)` with the
   * biased variance. Returns `mean` and `rstd` (shape `x.shape[:-1]`) for the backward.
   */
  layerNorm?(
    x: KernelTensor<S>,
    gamma: KernelTensor<S>,
    beta: KernelTensor<S>,
    eps: number,
  ): { y: KernelTensor<S>; mean: KernelTensor<S>; rstd: KernelTensor<S> };
  /** Gradients of `layerNorm` with respect to x, gamma and beta. */
  layerNormBackward?(
    dy: KernelTensor<S>,
    x: KernelTensor<S>,
    gamma: KernelTensor<S>,
    mean: KernelTensor<S>,
    rstd: KernelTensor<S>,
  ): { dx: KernelTensor<S>; dGamma: KernelTensor<S>; dBeta: KernelTensor<S> };
  /** `dy · f'(x)` for the activation `op`. */
  activationBackward?(op: ActivationOp, x: KernelTensor<S>, dy: KernelTensor<S>): KernelTensor<S>;
  /**
   * Per-row cross-entropy `logsumexp(logits[i]) − logits[i, labels[i]]` for logits `[N, V]` and int32
   * labels `[N]`; rows whose label equals `ignoreIndex` give loss 0. Returns the loss `[N]` and the row
   * logsumexp `[N]`.
   */
  crossEntropy?(logits: KernelTensor<S>, labels: KernelTensor<S>, ignoreIndex: number): { loss: KernelTensor<S>; lse: KernelTensor<S> };
  /** `dLogits[i] = dLoss[i] · (softmax(logits[i]) − onehot(labels[i]))`, zero on ignored rows. */
  crossEntropyBackward?(
    logits: KernelTensor<S>,
    labels: KernelTensor<S>,
    lse: KernelTensor<S>,
    dLoss: KernelTensor<S>,
    ignoreIndex: number,
  ): KernelTensor<S>;
  /**
   * Fused chunked attention (see {@link ChunkedAttentionParams}). `q`, `k` `[B, H, N, d]`, `v`
   * `[B, H, N, dv]` → `out` `[B, H, N, dv]` and `lse` `[B, H, N]` (with `byPosition`, q, k, v are
   * `[B, H, L, ·]` rows by position).
   */
  chunkedAttention?(
    q: KernelTensor<S>,
    k: KernelTensor<S>,
    v: KernelTensor<S>,
    params: ChunkedAttentionParams<S>,
  ): { out: KernelTensor<S>; lse: KernelTensor<S> };
  /**
   * Backward of `chunkedAttention` from `dOut` and `dLse`, recomputing the logits chunk by chunk from
   * `q`, `k` and the saved `lse`. With `p = exp(s − lse)`: `ds = p · (dOut·v − dOut·out + dLse)` on
   * logits that were not replaced by a mask, 0 on those that were.
   */
  chunkedAttentionBackward?(
    q: KernelTensor<S>,
    k: KernelTensor<S>,
    v: KernelTensor<S>,
    out: KernelTensor<S>,
    lse: KernelTensor<S>,
    dOut: KernelTensor<S>,
    dLse: KernelTensor<S>,
    params: ChunkedAttentionParams<S>,
  ): { dq: KernelTensor<S>; dk: KernelTensor<S>; dv: KernelTensor<S> };
}
