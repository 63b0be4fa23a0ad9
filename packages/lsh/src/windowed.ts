/**
 * Chunked attention written with plain ops (gather, matmul, where, logSumExp) instead of the fused
 * kernel, for the cases the kernel contract does not cover: a per-(query, key) logit offset (the
 * paper's duplicate-attention correction) and dropout on the attention probabilities (the layers'
 * `attentionDropout`, which needs the probabilities as a tensor). Its windows and masks are core's
 * attention rules (`attentionWindowSlots`, `maskAttentionLogits`: wrap-around, masks that replace
 * logits, the self logit) with a float32 logsumexp, but it materialises the
 * logits of all chunks at once: `[B, H, N/c, c, W]`, W = c·(before + 1 + after), which is linear in the
 * sequence length but W times larger than the fused kernel's working set.
 *
 * @module
 */
import {
  arange,
  attentionWindowSlots,
  broadcastTo,
  dropout,
  equal,
  exp,
  expandDims,
  gather,
  greater,
  logSumExp,
  maskAttentionLogits,
  matmul,
  maximum,
  mul,
  notEqual,
  reshape,
  scalar,
  sub,
  tensor,
  tidy,
  where,
  type AttentionMaskOps,
  type ChunkedAttentionRules,
  type Tensor,
} from '@reformer/core';

/** Options of {@link windowedAttention}; the same meaning as core's `ChunkedAttentionOptions`. @internal */
export interface WindowedAttentionOptions extends ChunkedAttentionRules {
  /** int32 `[B, H, N]` original positions of the slots (default: the slot index). */
  positions?: Tensor | undefined;
  /** int32 `[B, Lp]` padding mask by position. */
  keyMask?: Tensor | undefined;
  /** int32 `[B, H, N]` bucket ids (attend within the same bucket only). */
  buckets?: Tensor | undefined;
  /**
   * float32 `[B, H, N/c, c, W]`, subtracted from every logit that no mask replaced (constant: no
   * gradient flows into it).
   */
  logitOffset?: Tensor | undefined;
  /** Dropout on the attention probabilities (after the softmax, before `· v`); `lse` is not affected. */
  dropout?: { rate: number; seed: number } | undefined;
}

/** Core's `attentionWindowSlots` as an int32 tensor broadcast to `[B, H, nChunks·W]`. @internal */
export function windowSlotTensor(B: number, H: number, nChunks: number, c: number, before: number, after: number): Tensor {
  return tidy(() => {
    const host = attentionWindowSlots(nChunks, c, before, after);
    return broadcastTo(tensor(host, [1, 1, host.length], 'int32'), [B, H, host.length]);
  });
}

/** Core's attention rules (`maskAttentionLogits`) on autograd tensors. */
const TENSOR_MASK_OPS: AttentionMaskOps<Tensor> = {
  binary: (op, a, b) => ({ greater, equal, notEqual, maximum })[op](a, b),
  where: (cond, a, b) => where(cond, a, b),
  scalar: (value, dtype) => scalar(value, dtype),
};

/**
 * Chunked attention with ops: `q`, `k` `[B, H, N, d]`, `v` `[B, H, N, dv]` → `out` `[B, H, N, dv]` and
 * `lse` `[B, H, N]`, differentiable through `q`, `k`, `v` (and `lse`).
 * @internal
 */
export function windowedAttention(q: Tensor, k: Tensor, v: Tensor, o: WindowedAttentionOptions): { out: Tensor; lse: Tensor } {
  const [B, H, N, d] = q.shape as [number, number, number, number];
  const dv = v.shape[3]!;
  const c = o.chunkLength;
  const nC = N / c;
  const W = c * (o.chunksBefore + 1 + o.chunksAfter);
  return tidy(() => {
    const win = windowSlotTensor(B, H, nC, c, o.chunksBefore, o.chunksAfter);
    const kW = reshape(gather(k, win, 2), [B, H, nC, W, d]);
    const vW = reshape(gather(v, win, 2), [B, H, nC, W, dv]);
    const qC = reshape(q, [B, H, nC, c, d]);
    let logits = matmul(qC, kW, false, true); // [B, H, nC, c, W]
    if (o.scale !== 1) logits = mul(logits, scalar(o.scale));
    const positions = o.positions ?? broadcastTo(reshape(arange(0, N), [1, 1, N]), [B, H, N]);
    const posQ = reshape(positions, [B, H, nC, c, 1]);
    const posKFlat = gather(positions, win, 2); // [B, H, nC·W]
    const posK = reshape(posKFlat, [B, H, nC, 1, W]);
    const masked = maskAttentionLogits(TENSOR_MASK_OPS, logits, {
      queryPositions: posQ,
      keyPositions: posK,
      keyMaskBits: o.keyMask ? reshape(gather(o.keyMask, reshape(posKFlat, [B, H * nC * W]), 1), [B, H, nC, 1, W]) : undefined,
      queryBuckets: o.buckets ? reshape(o.buckets, [B, H, nC, c, 1]) : undefined,
      keyBuckets: o.buckets ? reshape(gather(o.buckets, win, 2), [B, H, nC, 1, W]) : undefined,
      causal: o.causal,
      excludeSelf: o.excludeSelf,
    });
    logits = masked.logits;
    const replaced = masked.replaced;
    if (o.logitOffset) {
      const shifted = sub(logits, o.logitOffset);
      logits = replaced === undefined ? shifted : where(replaced, logits, shifted);
    }
    const lse = logSumExp(logits, -1); // [B, H, nC, c], float32
    let p = exp(sub(logits, expandDims(lse, -1)));
    if (o.dropout !== undefined && o.dropout.rate > 0) p = dropout(p, o.dropout.rate, o.dropout.seed);
    const out = matmul(p, vW); // [B, H, nC, c, dv]
    return { out: reshape(out, [B, H, N, dv]), lse: reshape(lse, [B, H, N]) };
  });
}
