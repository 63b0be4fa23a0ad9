/**
 * Argument checks shared by the attention functions. Every check throws a named error of
 * `@reformer/core` whose message names the parameter, what was expected and what was given.
 *
 * @module
 */
import { DTypeError, InvalidArgumentError, ShapeMismatchError, type Tensor } from '@reformer/core';

/** Formats a shape as `[2, 3, 4]`. @internal */
export function fmt(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`;
}

/** Throws `InvalidArgumentError` unless `value` is an integer >= `min`. @internal */
export function checkInteger(fn: string, name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError(`${fn}: ${name} must be an integer >= ${min}, got ${String(value)}.`);
  }
  return value;
}

/** Throws `DTypeError` unless `t` is float32. @internal */
export function checkFloat(fn: string, name: string, t: Tensor): void {
  if (t.dtype !== 'float32') {
    throw new DTypeError(`${fn}: ${name} must be a float32 tensor, got ${t.dtype} ${fmt(t.shape)}; use cast(${name}, 'float32').`);
  }
}

/**
 * Checks an attention input `[batch, heads, length, dim]` (float32, rank 4, length >= 1) and returns
 * its four sizes. @internal
 */
export function checkAttentionTensor(fn: string, name: string, t: Tensor): [number, number, number, number] {
  checkFloat(fn, name, t);
  if (t.rank !== 4) {
    throw new ShapeMismatchError(`${fn}: ${name} must have shape [batch, heads, length, dHead], got ${fmt(t.shape)}.`);
  }
  const [B, H, L, d] = t.shape as [number, number, number, number];
  if (L < 1 || d < 1) {
    throw new ShapeMismatchError(`${fn}: ${name} ${fmt(t.shape)} needs length >= 1 and dHead >= 1.`);
  }
  return [B, H, L, d];
}

/** Throws `ShapeMismatchError` unless `t` is `[B, H, L, *]` (the last axis is free). @internal */
export function checkSameLeading(fn: string, name: string, t: Tensor, B: number, H: number, L: number, other: string): void {
  if (t.shape[0] !== B || t.shape[1] !== H || t.shape[2] !== L) {
    throw new ShapeMismatchError(
      `${fn}: ${name} ${fmt(t.shape)} must have the batch, heads and length of ${other}: expected [${B}, ${H}, ${L}, dim].`,
    );
  }
}

/**
 * Checks a padding mask: int32 `[B, L]` (1 = real token, 0 = padding). @internal
 */
export function checkMask(fn: string, mask: Tensor | undefined, B: number, L: number): void {
  if (mask === undefined) return;
  if (mask.dtype !== 'int32') {
    throw new DTypeError(
      `${fn}: mask must be an int32 tensor of shape [${B}, ${L}] (1 = real token, 0 = padding), got ${mask.dtype} ${fmt(mask.shape)}; use cast(mask, 'int32').`,
    );
  }
  if (mask.rank !== 2 || mask.shape[0] !== B || mask.shape[1] !== L) {
    throw new ShapeMismatchError(`${fn}: mask must have shape [batch, length] = [${B}, ${L}], got ${fmt(mask.shape)}.`);
  }
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
