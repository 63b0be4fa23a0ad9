import { createCpuBackend, dispose } from '@reformer/core';
import { expect } from 'vitest';

/** Runs `fn` with `backend` as the current core backend and restores the previous one. */
export { onBackend } from '@reformer/core/testing';

/** Max |a − b| over two arrays of the same length. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function expectClose(got: Float32Array[], want: Float32Array[], tol: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  got.forEach((g, i) => expect(maxDiff(g, want[i]!), `${what} #${i}`).toBeLessThanOrEqual(tol));
}

export const cpu = createCpuBackend();
export { dispose };
