// A small GEMM over padded scratch panels, used inside the fused kernels: C[M×N] (= or +=) A·B where
// M is a multiple of 4 and N of 8. A element (i, k) is read with one splat load at
// `a + i·aRow + k·aK` (byte strides, so A may be a matrix or the transpose of one); the 8 columns
// j..j+7 of B row k are read as two v128 at `b + (j/8)·bPanel + k·bK` (a packed panel: bK 32 and
// bPanel K·32, so a column strip is one sequential run). Register tile: 4 rows × 8 columns.
import { madd } from './simd';

export function gemmTiles(M: i32, N: i32, K: i32, a: usize, aRow: usize, aK: usize, b: usize, bPanel: usize, bK: usize, c: usize, ldc: i32, accumulate: bool): void {
  const ld = <usize>ldc << 2;
  for (let j = 0; j < N; j += 8) {
    const bj = b + <usize>(j >> 3) * bPanel;
    for (let i = 0; i < M; i += 4) {
      let a0 = a + <usize>i * aRow;
      let a1 = a0 + aRow;
      let a2 = a1 + aRow;
      let a3 = a2 + aRow;
      let bp = bj;
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
      let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
      let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      for (let k = 0; k < K; k++) {
        const b0 = v128.load(bp);
        const b1 = v128.load(bp, 16);
        let x = v128.load32_splat(a0);
        c00 = madd(x, b0, c00);
        c01 = madd(x, b1, c01);
        x = v128.load32_splat(a1);
        c10 = madd(x, b0, c10);
        c11 = madd(x, b1, c11);
        x = v128.load32_splat(a2);
        c20 = madd(x, b0, c20);
        c21 = madd(x, b1, c21);
        x = v128.load32_splat(a3);
        c30 = madd(x, b0, c30);
        c31 = madd(x, b1, c31);
        a0 += aK;
        a1 += aK;
        a2 += aK;
        a3 += aK;
        bp += bK;
      }
      const cp = c + <usize>i * ld + (<usize>j << 2);
      if (accumulate) {
        c00 = f32x4.add(c00, v128.load(cp)); c01 = f32x4.add(c01, v128.load(cp, 16));
        c10 = f32x4.add(c10, v128.load(cp + ld)); c11 = f32x4.add(c11, v128.load(cp + ld, 16));
        c20 = f32x4.add(c20, v128.load(cp + 2 * ld)); c21 = f32x4.add(c21, v128.load(cp + 2 * ld, 16));
        c30 = f32x4.add(c30, v128.load(cp + 3 * ld)); c31 = f32x4.add(c31, v128.load(cp + 3 * ld, 16));
      }
      v128.store(cp, c00); v128.store(cp, c01, 16);
      v128.store(cp + ld, c10); v128.store(cp + ld, c11, 16);
      v128.store(cp + 2 * ld, c20); v128.store(cp + 2 * ld, c21, 16);
      v128.store(cp + 3 * ld, c30); v128.store(cp + 3 * ld, c31, 16);
    }
  }
}
