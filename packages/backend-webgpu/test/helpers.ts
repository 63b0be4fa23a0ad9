import { createCpuBackend, type Tensor } from '@reformer/core';
import { expect } from 'vitest';

/** Runs `fn` with `backend` as the current core backend and restores the previous one. */
export { onBackend } from '@reformer/core/testing';

/** Reads tensors to the host and disposes them. */
export async function host(ts: Tensor[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const t of ts) out.push(Float32Array.from(await t.data()));
  for (const t of ts) t.dispose();
  return out;
}

/** Asserts |got − want| ≤ tol·(1 + |want|) element-wise for every pair. */
export function expectClose(got: Float32Array[], want: Float32Array[], tol: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  got.forEach((g, i) => {
    const w = want[i]!;
    expect(g.length, `${what} #${i} length`).toBe(w.length);
    let worst = 0;
    for (let j = 0; j < g.length; j++) worst = Math.max(worst, Math.abs(g[j]! - w[j]!) / (1 + Math.abs(w[j]!)));
    expect(worst, `${what} #${i}`).toBeLessThanOrEqual(tol);
  });
}

export const cpu = createCpuBackend();
