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
