import { attentionLogitRule, attentionWindowSlots } from '@reformer/core';

/** A key of the last query's window: a position, or −1 for a padding slot (always masked). */
export type WindowKey = number;

/** Where to read key and value vectors of position p (row `p` of `[length, width]` host arrays, at an offset). */
export interface KeyValueRows {
  /** Keys, row-major `[positions, stride]`. */
  keys: Float32Array;
  /** Values, row-major `[positions, stride]`. */
  values: Float32Array;
  /** Row stride of both arrays. */
  stride: number;
  /** Offset of this head's vector inside a row. */
  offset: number;
  /** Vector width. */
  width: number;
}

/** Options of {@link attendLast}: the masking rules of the fused chunked-attention kernel. */
export interface AttendLastOptions {
  /** Position of the query (the last token). */
  query: number;
  /** Multiplies every logit before masking. */
  scale: number;
  /** Give the query's own position the logit −1e5 (LSH attention). */
  excludeSelf: boolean;
}

/**
 * The attention of one query over the keys of its window, with core's attention rules
 * (`attentionLogitRule`): logits `scale · q·k`, REPLACED by −1e9 for padding slots and keys after
 * the query, and by −1e5 at the query's own position when `excludeSelf`; the logsumexp rounded to
 * float32 as the kernel returns it. Keys that occur several times in `window` count several times.
 * Writes the output (width `rows.width`) to `out` at `outOffset` and returns the logsumexp.
 */
export function attendLast(
  q: Float32Array,
  qOffset: number,
  window: readonly WindowKey[],
  rows: KeyValueRows,
  o: AttendLastOptions,
  out: Float64Array,
  outOffset: number,
): number {
  const { keys, values, stride, offset, width } = rows;
  const logits = new Float64Array(window.length);
  let max = -Infinity;
  for (let j = 0; j < window.length; j++) {
    const p = window[j]!;
    // Core's rules: causal by position; a padding slot (−1) is a key that is not allowed.
    let logit = attentionLogitRule(true, o.excludeSelf, o.query, p, p >= 0);
    if (logit === undefined) {
      let dot = 0;
      const base = p * stride + offset;
      for (let i = 0; i < width; i++) dot += q[qOffset + i]! * keys[base + i]!;
      logit = o.scale * dot;
    }
    logits[j] = logit;
    if (logit > max) max = logit;
  }
  let total = 0;
  for (let j = 0; j < window.length; j++) total += Math.exp(logits[j]! - max);
  const lse = Math.fround(max + Math.log(total));
  for (let i = 0; i < width; i++) out[outOffset + i] = 0;
  for (let j = 0; j < window.length; j++) {
    const w = Math.exp(logits[j]! - lse);
    if (w === 0) continue;
    const base = window[j]! * stride + offset;
    for (let i = 0; i < width; i++) out[outOffset + i] = out[outOffset + i]! + w * values[base + i]!;
  }
  return lse;
}

/**
 * The window of the last query of a banded (local) layout: the sequence of `length` positions is
 * padded to a multiple of `chunk` (or is one chunk when `length <= chunk`), and the query's chunk `n`
 * sees chunks `n − before … n + after` modulo the number of chunks, in that order (core's
 * `attentionWindowSlots`). Padding slots are −1.
 */
export function bandWindow(length: number, chunk: number, before: number, after: number): WindowKey[] {
  const query = length - 1;
  if (length <= chunk) return Array.from({ length }, (_, i) => i);
  const chunks = Math.ceil(length / chunk);
  const n = Math.floor(query / chunk);
  const W = chunk * (before + 1 + after);
  const slots = attentionWindowSlots(chunks, chunk, before, after).subarray(n * W, (n + 1) * W);
  return Array.from(slots, (p) => (p < length ? p : -1));
}
