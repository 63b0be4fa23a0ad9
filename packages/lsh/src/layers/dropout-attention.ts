import {
  arange,
  concat,
  dropout,
  less,
  lessEqual,
  matmul,
  mul,
  pad,
  reshape,
  scalar,
  slice,
  softmax,
  tidy,
  where,
  type Tensor,
} from '@reformer/core';

/** Options of {@link windowedAttentionWithDropout}. @internal */
export interface WindowedAttentionOptions {
  /** Positions per chunk; a sequence no longer than this is one chunk attending to itself only. */
  chunkLength: number;
  /** Neighbour chunks before (wrapping around). */
  chunksBefore: number;
  /** Neighbour chunks after (wrapping around). */
  chunksAfter: number;
  /** Keys after the query's position are not allowed. */
  causal: boolean;
  /** int32 `[B, L]` padding mask (1 = real). */
  mask?: Tensor | undefined;
  /** Logit scale. */
  scale: number;
  /** Dropout rate on the attention probabilities (0: none). */
  dropoutRate: number;
  /** Seed of the dropout mask. */
  dropoutSeed: number;
}

/**
 * Chunked (banded) attention written with plain differentiable core ops, so that the attention
 * probabilities exist as a tensor and dropout can be applied to them — the path local and full
 * attention take in training mode with `attentionDropout > 0` (the fused kernel never materialises the
 * probabilities). Same semantics as `localAttention` (Hugging Face's local attention): the sequence is
 * padded to a multiple of `chunkLength` (padding keys masked), chunk `n` attends to chunks
 * `n − before … n + after` mod N concatenated in that order (duplicates kept), not-allowed logits are
 * replaced by −1e9, then `softmax`, dropout, `· v`. A sequence of at most `chunkLength` positions is
 * plain attention over all of them. Memory: `[B, H, L, (1 + before + after) · chunkLength]` logits.
 *
 * `q`, `k` `[B, H, L, d]`, `v` `[B, H, L, dv]` → `[B, H, L, dv]`.
 * @internal
 */
export function windowedAttentionWithDropout(q: Tensor, k: Tensor, v: Tensor, options: WindowedAttentionOptions): Tensor {
  const [B, H, L, d] = q.shape as [number, number, number, number];
  const dv = v.shape[3]!;
  let c = options.chunkLength;
  let before = options.chunksBefore;
  let after = options.chunksAfter;
  if (L <= c) {
    c = L;
    before = 0;
    after = 0;
  }
  const N = Math.ceil(L / c);
  const Lp = N * c;
  const padLen = Lp - L;
  const offsets = Array.from({ length: before + after + 1 }, (_, i) => i - before);
  const w = offsets.length * c;
  return tidy(() => {
    /** Chunk n of the result = chunk (n + o) mod N of x, along `axis` (the chunk axis). */
    const roll = (x: Tensor, axis: number, o: number): Tensor => {
      const s = ((o % N) + N) % N;
      if (s === 0) return x;
      const begin = x.shape.map(() => 0);
      const sizeHead = x.shape.map((n, i) => (i === axis ? N - s : n));
      const beginTail = [...begin];
      beginTail[axis] = s;
      const sizeTail = x.shape.map((n, i) => (i === axis ? s : n));
      return concat([slice(x, beginTail, sizeHead), slice(x, begin, sizeTail)], axis);
    };
    /** The window of every chunk: the rolled chunks concatenated on the within-chunk axis. */
    const windowOf = (x: Tensor, axis: number): Tensor => {
      const parts = offsets.map((o) => roll(x, axis, o));
      return parts.length === 1 ? parts[0]! : concat(parts, axis + 1);
    };
    const chunked = (x: Tensor, size: number): Tensor =>
      reshape(padLen > 0 ? pad(x, [[0, 0], [0, 0], [0, padLen], [0, 0]]) : x, [B, H, N, c, size]);
    const qc = chunked(q, d);
    const kw = windowOf(chunked(k, d), 2); // [B, H, N, w, d]
    const vw = windowOf(chunked(v, dv), 2); // [B, H, N, w, dv]
    let logits = matmul(qc, kw, false, true); // [B, H, N, c, w]
    if (options.scale !== 1) logits = mul(logits, scalar(options.scale));
    const masked = scalar(-1e9);
    const pos = reshape(arange(0, Lp), [N, c]);
    const posK = reshape(windowOf(pos, 0), [1, 1, N, 1, w]);
    if (padLen > 0) logits = where(less(posK, scalar(L, 'int32')), logits, masked);
    if (options.causal) logits = where(lessEqual(posK, reshape(pos, [1, 1, N, c, 1])), logits, masked);
    if (options.mask) {
      const m = padLen > 0 ? pad(options.mask, [[0, 0], [0, padLen]]) : options.mask;
      const mw = windowOf(reshape(m, [B, 1, N, c]), 2); // [B, 1, N, w]
      logits = where(reshape(mw, [B, 1, N, 1, w]), logits, masked);
    }
    let probs = softmax(logits, -1);
    if (options.dropoutRate > 0) probs = dropout(probs, options.dropoutRate, options.dropoutSeed);
    const out = reshape(matmul(probs, vw), [B, H, Lp, dv]);
    return padLen > 0 ? slice(out, [0, 0, 0, 0], [B, H, L, dv]) : out;
  });
}
