/** Shape arithmetic of the kernels: sizes, strides, broadcasting, and merging of axes. */

import { stridesOf } from '@reformer/core';

export { sizeOf, stridesOf } from '@reformer/core';

/** Strides of `shape` read as broadcast to `out` (0 on broadcast axes, right-aligned). */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const own = stridesOf(shape);
  const off = out.length - shape.length;
  return out.map((_, i) => {
    const j = i - off;
    if (j < 0 || shape[j] === 1) return 0;
    return own[j]!;
  });
}

/**
 * Drops size-1 axes and merges neighbouring axes that every operand walks contiguously
 * (`stride[d] == stride[d+1]·shape[d+1]` for all operands). Returns at least one axis.
 */
export function collapse(shape: readonly number[], strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d]!;
    if (n === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, j) => outStrides[j]![last] === s[d]! * n)) {
      outShape[last] = outShape[last]! * n;
      strides.forEach((s, j) => (outStrides[j]![last] = s[d]!));
      continue;
    }
    outShape.push(n);
    strides.forEach((s, j) => outStrides[j]!.push(s[d]!));
  }
  if (outShape.length === 0) {
    outShape.push(1);
    outStrides.forEach((s) => s.push(0));
  }
  return { shape: outShape, strides: outStrides };
}
