/**
 * Argument checks shared by the attention functions. Every check throws a named error of
 * `@reformer/core` whose message names the parameter, what was expected and what was given.
 *
 * @module
 */
import {
  InvalidArgumentError,
  ShapeMismatchError,
  checkAllocation,
  checkInteger,
  checkTensorDType,
  formatShape,
  hostInt32Values,
  tensorBytes,
  type Backend,
  type Tensor,
} from '@reformer/core';

/**
 * Checks an attention input `[batch, heads, length, dim]` (float32, rank 4, length >= 1) and returns
 * its four sizes. @internal
 */
export function checkAttentionTensor(fn: string, name: string, t: Tensor): [number, number, number, number] {
  checkTensorDType(fn, name, t, 'float32');
  if (t.rank !== 4) {
    throw new ShapeMismatchError(`${fn}: ${name} must have shape [batch, heads, length, dHead], got ${formatShape(t.shape)}.`);
  }
  const [B, H, L, d] = t.shape as [number, number, number, number];
  if (L < 1 || d < 1) {
    throw new ShapeMismatchError(`${fn}: ${name} ${formatShape(t.shape)} needs length >= 1 and dHead >= 1.`);
  }
  return [B, H, L, d];
}

/** Throws `ShapeMismatchError` unless `t` is `[B, H, L, *]` (the last axis is free). @internal */
export function checkSameLeading(fn: string, name: string, t: Tensor, B: number, H: number, L: number, other: string): void {
  if (t.shape[0] !== B || t.shape[1] !== H || t.shape[2] !== L) {
    throw new ShapeMismatchError(
      `${fn}: ${name} ${formatShape(t.shape)} must have the batch, heads and length of ${other}: expected [${B}, ${H}, ${L}, dim].`,
    );
  }
}

/**
 * Checks replayed LSH buckets (int32 `[B, H, nHashes, L]` with round offsets, as an earlier call
 * returned them): round r's values must lie in `[r·stride, (r + 1)·stride)`, where the stride is
 * `nBuckets`, or `nBuckets + 1` when `mask` has a 0 (the padding bucket; Hugging Face's numbering).
 * Throws `InvalidArgumentError` naming the first value out of range. @internal
 */
export function checkBucketValues(fn: string, buckets: Tensor, nHashes: number, nBuckets: number, mask: Tensor | undefined): void {
  const values = hostInt32Values(buckets);
  if (values === undefined) return;
  let stride = nBuckets;
  if (mask !== undefined) {
    const m = hostInt32Values(mask);
    if (m === undefined) return;
    if (m.includes(0)) stride = nBuckets + 1;
  }
  const L = buckets.shape[3]!;
  for (let i = 0; i < values.length; i++) {
    const r = Math.floor(i / L) % nHashes;
    const lo = r * stride;
    const v = values[i]!;
    if (v < lo || v >= lo + stride) {
      const H = buckets.shape[1]!;
      const t = i % L;
      const h = Math.floor(i / (L * nHashes)) % H;
      const b = Math.floor(i / (L * nHashes * H));
      throw new InvalidArgumentError(
        `${fn}: buckets[${b}, ${h}, ${r}, ${t}] = ${v} is out of range: round ${r} of replayed buckets must lie in ${lo}..${lo + stride - 1} ` +
          `(nBuckets = ${nBuckets}${stride > nBuckets ? ', plus the padding bucket' : ''}). Pass back the buckets an earlier call returned, with the same nBuckets and mask.`,
      );
    }
  }
}

/** Largest int32 value: bucket ids (with round offsets) and sorted slot indices must stay below it. @internal */
export const INT32_MAX = 2 ** 31 - 1;

/**
 * Checks the logits one chunk pair of chunked attention holds (`chunkLength` queries × `window` keys,
 * float32) against `backend`'s allocation bound; `hint` says what to change. @internal
 */
export function checkChunkLogits(fn: string, chunkLength: number, window: number, hint: string, backend: Backend): void {
  checkAllocation(
    `${fn}: the logits of one chunk of attention [${chunkLength}, ${window}]`,
    tensorBytes([chunkLength, window]),
    hint,
    backend,
  );
}

/** Options shared by the chunked functions: chunk length and neighbour counts, validated. @internal */
export function checkChunking(
  fn: string,
  chunkLength: unknown,
  chunksBefore: unknown,
  chunksAfter: unknown,
): { chunkLength: number; chunksBefore: number; chunksAfter: number } {
  return {
    chunkLength: checkInteger(fn, 'chunkLength', chunkLength, 1),
    chunksBefore: checkInteger(fn, 'chunksBefore', chunksBefore, 0),
    chunksAfter: checkInteger(fn, 'chunksAfter', chunksAfter, 0),
  };
}
