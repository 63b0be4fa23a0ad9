/**
 * The attention rules of chunked attention, in one place (docs/architecture.md, "Attention rules"):
 * which keys a query sees (the window, {@link attentionWindowSlots}) and which logits are replaced
 * ({@link attentionLogitRule} for one key in a host loop, {@link maskAttentionLogits} for tensors).
 * Core's composite attention, the CPU kernel, `@reformer/lsh`'s windowed attention and generation's
 * cached attention all call these; GPU kernels restate them in their shader language and are checked
 * against the composite and the oracle by the conformance suite.
 *
 * @module
 */
import { MASKED_LOGIT, SELF_LOGIT } from './backend.js';

/**
 * Slot of every window key, chunk by chunk: the queries of chunk n (of `nChunks` chunks of
 * `chunkLength` slots) attend to chunks `n − chunksBefore, …, n + chunksAfter`, taken modulo
 * `nChunks` (wrap-around, as trax and Hugging Face do) and in that order, so entry `n·W + o·c + u`
 * (`W = c·(before + 1 + after)`) is slot `((n − before + o) mod nChunks)·c + u`. A chunk that occurs
 * twice in a window (few chunks, wide window) is attended twice.
 */
export function attentionWindowSlots(nChunks: number, chunkLength: number, chunksBefore: number, chunksAfter: number): Int32Array {
  const nWin = chunksBefore + 1 + chunksAfter;
  const W = chunkLength * nWin;
  const out = new Int32Array(nChunks * W);
  for (let n = 0; n < nChunks; n++) {
    for (let o = 0; o < nWin; o++) {
      const m = (((n - chunksBefore + o) % nChunks) + nChunks) % nChunks;
      for (let u = 0; u < chunkLength; u++) out[n * W + o * chunkLength + u] = m * chunkLength + u;
    }
  }
  return out;
}

/**
 * The logit of one window key under the rules, or `undefined` when it stays `scale · q·k`:
 * {@link SELF_LOGIT} at the query's own position under `excludeSelf` (this overrides the next rule),
 * else {@link MASKED_LOGIT} where the key is not allowed — `causal` and its position after the
 * query's, or `keyAllowed` false (padding mask 0 at the key's position, another bucket, a padding slot).
 */
export function attentionLogitRule(
  causal: boolean,
  excludeSelf: boolean,
  queryPos: number,
  keyPos: number,
  keyAllowed: boolean,
): number | undefined {
  if (excludeSelf && keyPos === queryPos) return SELF_LOGIT;
  if (!keyAllowed || (causal && keyPos > queryPos)) return MASKED_LOGIT;
  return undefined;
}

/**
 * Operations {@link maskAttentionLogits} needs, so that the one definition of the rules runs on
 * kernel tensors (the composite) and on autograd tensors (`@reformer/lsh`'s windowed attention).
 */
export interface AttentionMaskOps<T> {
  /** `a op b` broadcast; comparisons give int32 0/1, `maximum` is a logical or of 0/1 values. */
  binary(op: 'greater' | 'equal' | 'notEqual' | 'maximum', a: T, b: T): T;
  where(cond: T, a: T, b: T): T;
  scalar(value: number, dtype: 'float32' | 'int32'): T;
}

/** What decides whether a window key is allowed; shapes broadcast to the logits `[..., c, W]`. */
export interface AttentionMaskInputs<T> {
  /** Original position of each query, `[..., c, 1]`. */
  queryPositions: T;
  /** Original position of each window key, `[..., 1, W]`. */
  keyPositions: T;
  /** The padding-mask value (0 = not allowed) at each window key's position, `[..., 1, W]`. */
  keyMaskBits?: T | undefined;
  /** Bucket of each query `[..., c, 1]` and of each window key `[..., 1, W]`. */
  queryBuckets?: T | undefined;
  keyBuckets?: T | undefined;
  causal: boolean;
  excludeSelf: boolean;
}

/**
 * The attention rules, once: the logits with not-allowed keys REPLACED by {@link MASKED_LOGIT}
 * (causal and key position after the query's, padding mask 0 at the key's position, other bucket)
 * and then the query's own position by {@link SELF_LOGIT} under `excludeSelf` (overriding the
 * first rule), and `replaced`, int32 1 where a logit was replaced (undefined when no rule applies).
 */
export function maskAttentionLogits<T>(
  o: AttentionMaskOps<T>,
  logits: T,
  m: AttentionMaskInputs<T>,
): { logits: T; replaced: T | undefined } {
  let notAllowed: T | undefined;
  const or = (t: T) => {
    notAllowed = notAllowed === undefined ? t : o.binary('maximum', notAllowed, t);
  };
  if (m.causal) or(o.binary('greater', m.keyPositions, m.queryPositions));
  if (m.keyMaskBits !== undefined) or(o.binary('equal', m.keyMaskBits, o.scalar(0, 'int32')));
  if (m.queryBuckets !== undefined && m.keyBuckets !== undefined) or(o.binary('notEqual', m.queryBuckets, m.keyBuckets));
  let out = logits;
  let replaced = notAllowed;
  if (notAllowed !== undefined) out = o.where(notAllowed, o.scalar(MASKED_LOGIT, 'float32'), out);
  if (m.excludeSelf) {
    const self = o.binary('equal', m.keyPositions, m.queryPositions);
    out = o.where(self, o.scalar(SELF_LOGIT, 'float32'), out);
    replaced = replaced === undefined ? self : o.binary('maximum', replaced, self);
  }
  return { logits: out, replaced };
}
