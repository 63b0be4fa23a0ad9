/**
 * Sanity of the seeded random tensors and dropout on the backend: same seed → same values, other
 * seeds → other values, moments close to the distribution's, dropout's kept fraction close to
 * 1 − rate. (Bit-exactness against the host generator is checked in `kernels.ts`.)
 */
import { expect, it } from 'vitest';
import { dispose } from '../engine.js';
import { ones, randomNormal, randomUniform } from '../ops/creation.js';
import { dropout } from '../ops/fused.js';
import { download, on, type SuiteContext } from './harness.js';

function moments(data: ArrayLike<number>): { mean: number; variance: number } {
  let m = 0;
  for (let i = 0; i < data.length; i++) m += data[i]!;
  m /= data.length;
  let v = 0;
  for (let i = 0; i < data.length; i++) v += (data[i]! - m) ** 2;
  return { mean: m, variance: v / data.length };
}

/** Declares the statistical sanity tests of random tensors and dropout. */
export function randomStatisticsTests(ctx: SuiteContext): void {
  it('randomNormal / randomUniform: same seed same values, other seed other values, sane moments', async () => {
    const n = 20000;
    const [a, b, c, u, u2] = on(ctx.backend, () => [
      randomNormal([n], { seed: 11 }),
      randomNormal([n], { seed: 11 }),
      randomNormal([n], { seed: 12 }),
      randomUniform([n], { seed: 11, min: -1, max: 3 }),
      randomUniform([n], { seed: 13 }),
    ]);
    try {
      const [ha, hb, hc, hu, hu2] = await Promise.all([a!, b!, c!, u!, u2!].map(download));
      expect(Array.from(ha!.data)).toEqual(Array.from(hb!.data));
      let same = 0;
      for (let i = 0; i < n; i++) if (ha!.data[i] === hc!.data[i]) same++;
      expect(same).toBeLessThan(n / 100);
      // Standard errors: mean 1/√n ≈ 0.007, variance √(2/n) ≈ 0.01.
      const mn = moments(ha!.data);
      expect(Math.abs(mn.mean)).toBeLessThan(0.04);
      expect(Math.abs(mn.variance - 1)).toBeLessThan(0.05);
      const mu = moments(hu!.data);
      expect(Math.abs(mu.mean - 1)).toBeLessThan(0.05);
      expect(Math.abs(mu.variance - 16 / 12)).toBeLessThan(0.06);
      for (const x of hu!.data) {
        expect(x).toBeGreaterThanOrEqual(-1);
        expect(x).toBeLessThan(3);
      }
      for (const x of hu2!.data) {
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThan(1);
      }
    } finally {
      dispose([a, b, c, u, u2]);
    }
  });

  it('dropout: same seed same mask, kept fraction ≈ 1 − rate, kept values scaled by 1/(1 − rate)', async () => {
    const n = 20000;
    const x = on(ctx.backend, () => ones([n]));
    const [d1, d2, d3] = on(ctx.backend, () => [dropout(x, 0.25, 77), dropout(x, 0.25, 77), dropout(x, 0.25, 78)]);
    try {
      const [h1, h2, h3] = await Promise.all([d1!, d2!, d3!].map(download));
      expect(Array.from(h1!.data)).toEqual(Array.from(h2!.data));
      expect(Array.from(h1!.data)).not.toEqual(Array.from(h3!.data));
      let kept = 0;
      const scale = Math.fround(1 / 0.75);
      for (const v of h1!.data) {
        if (v !== 0) {
          kept++;
          expect(v).toBe(scale);
        }
      }
      expect(Math.abs(kept / n - 0.75)).toBeLessThan(0.02);
    } finally {
      dispose([x, d1, d2, d3]);
    }
  });
}
