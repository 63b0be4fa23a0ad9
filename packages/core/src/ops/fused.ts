import { attentionDropoutWords, type AttentionDropout } from '../attention-dropout.js';
import { type ChunkedAttentionParams, type KernelTensor } from '../backend.js';
import {
  chunkedAttentionBackwardKernel,
  chunkedAttentionKernel,
  crossEntropyBackwardKernel,
  crossEntropyKernel,
  layerNormBackwardKernel,
  layerNormKernel,
} from '../composite/index.js';
import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import { runOp, runOp1, tidy } from '../engine.js';
import { nextSeed, uniformValues } from '../random.js';
import type { Tensor } from '../tensor.js';
import { formatShape } from '../types.js';
import { checkDivisor, checkInteger, checkRate } from '../validate.js';
import { fromHost, scalar } from './creation.js';
import { cast, div, maximum, mul, notEqual } from './elementwise.js';
import { reshape } from './layout.js';
import { checkMaskPositions, checkRowPositions } from './mask-positions.js';
import { sum } from './reduce.js';
import { requireDType } from './util.js';

/**
 * Layer normalisation over the last axis: `(x − mean)/√(var + eps) · gamma + beta` (biased variance),
 * as one fused kernel with a fused backward.
 */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-12): Tensor {
  requireDType('layerNorm', 'float32', x, gamma, beta);
  const d = x.shape[x.rank - 1];
  if (x.rank < 1 || gamma.rank !== 1 || beta.rank !== 1 || gamma.shape[0] !== d || beta.shape[0] !== d) {
    throw new ShapeMismatchError(
      `layerNorm: gamma ${formatShape(gamma.shape)} and beta ${formatShape(beta.shape)} must both be [${d}] for x ${formatShape(x.shape)}.`,
    );
  }
  const [y, m, r] = runOp({
    name: 'layerNorm',
    inputs: [x, gamma, beta],
    kernel: (b, [xk, gk, bk]) => {
      const { y, mean, rstd } = layerNormKernel(b, xk!, gk!, bk!, eps);
      return [y, mean, rstd];
    },
    backward: ([dy], [xs, gs, ms, rs]) => {
      const [dx, dGamma, dBeta] = runOp({
        name: 'layerNormBackward',
        inputs: [dy!, xs!, gs!, ms!, rs!],
        kernel: (b, [dk, xk, gk, mk, rk]) => {
          const g = layerNormBackwardKernel(b, dk!, xk!, gk!, mk!, rk!);
          return [g.dx, g.dGamma, g.dBeta];
        },
      });
      return [dx, dGamma, dBeta];
    },
    save: (inputs, outputs) => [inputs[0]!, inputs[1]!, outputs[1]!, outputs[2]!],
  });
  m!.dispose();
  r!.dispose();
  return y!;
}

/** Options of {@link crossEntropy}. */
export interface CrossEntropyOptions {
  /** Label value to ignore (default −100, as PyTorch / Hugging Face). */
  ignoreIndex?: number;
  /** `mean` over non-ignored rows (default), `sum`, or `none` (per-row losses). */
  reduction?: 'mean' | 'sum' | 'none';
}

/**
 * Cross-entropy of `logits` `[..., V]` against int32 `labels` `[...]`: `logsumexp(z) − z[label]` per
 * row, fused with its backward. Rows labelled `ignoreIndex` contribute 0 and are not counted by `mean`.
 */
export function crossEntropy(logits: Tensor, labels: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const { ignoreIndex = -100, reduction = 'mean' } = options;
  requireDType('crossEntropy', 'float32', logits);
  requireDType('crossEntropy', 'int32', labels);
  const v = logits.shape[logits.rank - 1]!;
  const lead = logits.shape.slice(0, -1);
  if (logits.rank < 1 || labels.rank !== lead.length || labels.shape.some((d, i) => d !== lead[i])) {
    throw new ShapeMismatchError(
      `crossEntropy: labels ${formatShape(labels.shape)} must have shape ${formatShape(lead)} for logits ${formatShape(logits.shape)}.`,
    );
  }
  const rows = lead.reduce((a, b) => a * b, 1);
  const z = reshape(logits, [rows, v]);
  const y = reshape(labels, [rows]);
  const [loss, lse] = runOp({
    name: 'crossEntropy',
    inputs: [z, y],
    kernel: (b, [zk, yk]) => {
      const r = crossEntropyKernel(b, zk!, yk!, ignoreIndex);
      return [r.loss, r.lse];
    },
    backward: ([dLoss], [zs, ys, lses]) => [
      runOp1({
        name: 'crossEntropyBackward',
        inputs: [zs!, ys!, lses!, dLoss!],
        kernel: (b, [zk, yk, lk, dk]) => crossEntropyBackwardKernel(b, zk!, yk!, lk!, dk!, ignoreIndex),
      }),
      null,
    ],
    save: (inputs, outputs) => [inputs[0]!, inputs[1]!, outputs[1]!],
  });
  lse!.dispose();
  z.dispose();
  let out: Tensor;
  if (reduction === 'none') {
    out = reshape(loss!, lead);
  } else if (reduction === 'sum') {
    out = sum(loss!);
  } else {
    out = tidy(() => {
      const valid = cast(notEqual(y, scalar(ignoreIndex, 'int32')), 'float32');
      return div(sum(loss!), maximum(sum(valid), scalar(1)));
    });
  }
  loss!.dispose();
  y.dispose();
  return out;
}

/**
 * Inverted dropout: zeroes each element with probability `rate` and scales the rest by 1/(1 − rate).
 * The mask comes from the counter-based RNG: the same `seed` gives the same mask on every backend.
 * Without a seed, the next seed of the current `seedScope` is used (replayable).
 */
export function dropout(x: Tensor, rate: number, seed: number = nextSeed()): Tensor {
  checkRate('dropout', 'rate', rate);
  if (rate === 0) return reshape(x, x.shape);
  requireDType('dropout', 'float32', x);
  const u = uniformValues(seed, x.size);
  const keepScale = 1 / (1 - rate);
  const mask = new Float32Array(x.size);
  for (let i = 0; i < mask.length; i++) mask[i] = u[i]! >= rate ? keepScale : 0;
  const m = fromHost(mask, x.shape, 'float32');
  const out = mul(x, m);
  m.dispose();
  return out;
}

/** Options of {@link chunkedAttention}; see `ChunkedAttentionParams` of the Backend contract. */
export interface ChunkedAttentionOptions {
  /** Slots per chunk; must divide the sequence length. */
  chunkLength: number;
  /** Neighbour chunks before (default 1). */
  chunksBefore?: number;
  /** Neighbour chunks after (default 0). */
  chunksAfter?: number;
  /** Causal by position (default false). */
  causal?: boolean;
  /** Self logit −1e5 (default false). */
  excludeSelf?: boolean;
  /** Logit scale (default 1). */
  scale?: number;
  /** int32 `[B, H, N]` original positions of the slots (default: slot index). */
  positions?: Tensor;
  /**
   * int32 `[B, L]` padding mask by position: 0 = do not attend. With `positions`, every position must
   * be in `[0, L)`: one outside is an `InvalidArgumentError` on every backend (at the call, or at the
   * next readback on backends that check on the device).
   */
  keyMask?: Tensor;
  /** int32 `[B, H, N]` bucket ids: attend within the same bucket only. */
  buckets?: Tensor;
  /**
   * `q`, `k`, `v` hold one row per position, `[B, H, L, ·]`, and slot i uses row `positions[i]`
   * (required; every position in `[0, L)`, checked like the keyMask's): the same result as gathering
   * them into slot order first (`gather(q, positions, 2)`, …), without those copies on backends that
   * read by position (`Backend.attentionByPosition`). `out` and `lse` are in slot order
   * (`[B, H, N, ·]`); the gradients of q, k, v add up every slot's share in its position's row.
   */
  byPosition?: boolean;
  /**
   * Dropout on the attention probabilities (after the softmax, before `· v`; the returned `lse` is
   * not affected), from a counter-based hash of (seed, batch, head, round, query position, key
   * position): the same mask on every backend, recomputed (never stored) by the backward. Rate 0 or
   * absent: no dropout. See `attentionDropoutFactor`.
   */
  dropout?: AttentionDropout;
}

/**
 * Chunked attention (docs/architecture.md, "Attention rules"): `q`, `k` `[B, H, N, d]`, `v` `[B, H, N, dv]` → `out`
 * `[B, H, N, dv]` and the per-query logsumexp `lse` `[B, H, N]`. Both outputs are differentiable
 * (the LSH round combination back-propagates through `lse`). Runs the backend's fused kernels, or
 * core's composite of them (memory bounded per group of queries) on a backend without them. With
 * `byPosition`, q, k, v are `[B, H, L, ·]` rows by position and N is the length of `positions`.
 */
export function chunkedAttention(q: Tensor, k: Tensor, v: Tensor, options: ChunkedAttentionOptions): { out: Tensor; lse: Tensor } {
  requireDType('chunkedAttention', 'float32', q, k, v);
  const { chunkLength, chunksBefore = 1, chunksAfter = 0, causal = false, excludeSelf = false, scale = 1 } = options;
  if (
    q.rank !== 4 ||
    k.rank !== 4 ||
    v.rank !== 4 ||
    q.shape.some((d, i) => d !== k.shape[i]) ||
    v.shape.slice(0, 3).some((d, i) => d !== q.shape[i])
  ) {
    throw new ShapeMismatchError(
      `chunkedAttention: q ${formatShape(q.shape)} and k ${formatShape(k.shape)} must be equal [B, H, N, d] and v ${formatShape(v.shape)} must be [B, H, N, dv].`,
    );
  }
  const byPosition = options.byPosition ?? false;
  if (byPosition && options.positions === undefined) {
    throw new InvalidArgumentError('chunkedAttention: byPosition reads row positions[i] for slot i; pass positions.');
  }
  const [B, H, rows] = q.shape as [number, number, number, number];
  // With byPosition the slots are the positions' (q, k, v have their own row count).
  const N = byPosition ? (options.positions!.shape[2] ?? rows) : rows;
  checkInteger('chunkedAttention', 'chunksBefore', chunksBefore, 0);
  checkInteger('chunkedAttention', 'chunksAfter', chunksAfter, 0);
  for (const [name, t] of [
    ['positions', options.positions],
    ['buckets', options.buckets],
  ] as const) {
    if (t) {
      requireDType(`chunkedAttention ${name}`, 'int32', t);
      if (t.rank !== 3 || t.shape[0] !== B || t.shape[1] !== H || t.shape[2] !== N) {
        throw new ShapeMismatchError(`chunkedAttention: ${name} ${formatShape(t.shape)} must be [${B}, ${H}, ${N}].`);
      }
    }
  }
  checkDivisor('chunkedAttention', 'chunkLength', chunkLength, N, 'the sequence length', 'Pad the sequence (and mask the padding) first.');
  if (options.keyMask) {
    requireDType('chunkedAttention keyMask', 'int32', options.keyMask);
    if (options.keyMask.rank !== 2 || options.keyMask.shape[0] !== B) {
      throw new ShapeMismatchError(
        `chunkedAttention: keyMask ${formatShape(options.keyMask.shape)} must be [${B}, L] (indexed by position).`,
      );
    }
    if (!options.positions && options.keyMask.shape[1] !== N) {
      throw new ShapeMismatchError(
        `chunkedAttention: keyMask ${formatShape(options.keyMask.shape)} must be [${B}, ${N}] when no positions are given.`,
      );
    }
    if (options.positions) checkMaskPositions(options.positions, options.keyMask);
  }
  if (byPosition) checkRowPositions(options.positions!, rows);
  let dropout: AttentionDropout | undefined;
  if (options.dropout !== undefined) {
    const { rate, seed, roundLength = N } = options.dropout;
    attentionDropoutWords(rate, seed); // validates rate and seed
    checkDivisor(
      'chunkedAttention',
      'dropout.roundLength',
      roundLength,
      N,
      'the sequence length',
      'It is the number of slots of one hash round.',
    );
    if (rate > 0) dropout = { rate, seed, roundLength };
  }
  const extras = [options.positions, options.keyMask, options.buckets].filter((t): t is Tensor => t !== undefined);
  const params = (ks: KernelTensor[]): ChunkedAttentionParams => {
    let i = 0;
    return {
      chunkLength,
      chunksBefore,
      chunksAfter,
      causal,
      excludeSelf,
      scale,
      positions: options.positions ? ks[i++] : undefined,
      keyMask: options.keyMask ? ks[i++] : undefined,
      buckets: options.buckets ? ks[i++] : undefined,
      dropout,
      byPosition,
    };
  };
  const [out, lse] = runOp({
    name: 'chunkedAttention',
    inputs: [q, k, v, ...extras],
    kernel: (b, [qk, kk, vk, ...rest]) => {
      const r = chunkedAttentionKernel(b, qk!, kk!, vk!, params(rest));
      return [r.out, r.lse];
    },
    backward: ([dOut, dLse], saved) => {
      const [qs, ks, vs, os, ls, ...rest] = saved;
      const [dq, dk, dv] = runOp({
        name: 'chunkedAttentionBackward',
        inputs: [qs!, ks!, vs!, os!, ls!, dOut!, dLse!, ...rest],
        kernel: (b, [qk, kk, vk, ok, lk, dok, dlk, ...extra]) => {
          const g = chunkedAttentionBackwardKernel(b, qk!, kk!, vk!, ok!, lk!, dok!, dlk!, params(extra));
          return [g.dq, g.dk, g.dv];
        },
      });
      return [dq, dk, dv, ...extras.map(() => null)];
    },
    save: (inputs, outputs) => [inputs[0]!, inputs[1]!, inputs[2]!, outputs[0]!, outputs[1]!, ...inputs.slice(3)],
  });
  return { out: out!, lse: lse! };
}
