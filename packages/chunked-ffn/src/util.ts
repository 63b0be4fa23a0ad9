import { InvalidArgumentError } from '@reformer/core';

/**
 * Throws an `InvalidArgumentError` naming `name` unless `value` is an integer ≥ `min`.
 * @internal
 */
export function checkInteger(where: string, name: string, value: number, min: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError(`${where}: ${name} must be an integer >= ${min}, got ${String(value)}.`);
  }
}

/**
 * The `[start, end)` bounds of consecutive chunks of `chunkSize` covering `0..length` (the last one
 * may be shorter).
 * @internal
 */
export function chunkBounds(length: number, chunkSize: number): [number, number][] {
  const out: [number, number][] = [];
  for (let start = 0; start < length; start += chunkSize) out.push([start, Math.min(length, start + chunkSize)]);
  return out;
}
