// Packed, register-blocked single-precision GEMM: C[M×N] = A[M×K] · B[K×N] with any strides (which is
// how the transpose flags arrive). GotoBLAS loop order: N in blocks of NC, K in blocks of KC (B block
// packed into NR-wide column panels), M in blocks of MC (A block packed into MR-tall row panels), then
// an MR×NR micro-kernel that keeps the tile in 8 v128 accumulators.
import { madd } from './simd';

export const MR: i32 = 4;
export const NR: i32 = 8;
export const KC: i32 = 256;
export const MC: i32 = 96;
export const NC: i32 = 1024;

/** Bytes of scratch `matmul` needs for its packed panels: MC·KC + KC·NC floats plus a tile. */
export function matmulScratchBytes(): i32 {
  return (MC * KC + KC * NC + MR * NR) << 2;
}

/** Packs rows [i0, i0+mc) × cols [k0, k0+kc) of A into MR-row panels, k-major, zero-padded rows. */
function packA(a: usize, rsA: i32, csA: i32, i0: i32, mc: i32, k0: i32, kc: i32, dst: usize): void {
  for (let ip = 0; ip < mc; ip += MR) {
    const rows = min<i32>(MR, mc - ip);
    const panel = dst + (<usize>(ip * kc) << 2);
    for (let r = 0; r < MR; r++) {
      if (r < rows) {
        let src = a + (<usize>((i0 + ip + r) * rsA + k0 * csA) << 2);
        const step = <usize>csA << 2;
        let p = panel + (<usize>r << 2);
        for (let k = 0; k < kc; k++) {
          store<f32>(p, load<f32>(src));
          src += step;
          p += MR << 2;
        }
      } else {
        let p = panel + (<usize>r << 2);
        for (let k = 0; k < kc; k++) {
          store<f32>(p, 0);
          p += MR << 2;
        }
      }
    }
  }
}

/** Packs rows [k0, k0+kc) × cols [j0, j0+nc) of B into NR-column panels, k-major, zero-padded columns. */
function packB(b: usize, rsB: i32, csB: i32, k0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  for (let jp = 0; jp < nc; jp += NR) {
    const cols = min<i32>(NR, nc - jp);
    const panel = dst + (<usize>(jp * kc) << 2);
    if (cols === NR && csB === 1) {
      for (let k = 0; k < kc; k++) {
        const src = b + (<usize>((k0 + k) * rsB + j0 + jp) << 2);
        const p = panel + (<usize>(k * NR) << 2);
        v128.store(p, v128.load(src));
        v128.store(p, v128.load(src, 16), 16);
      }
      continue;
    }
    for (let k = 0; k < kc; k++) {
      const p = panel + (<usize>(k * NR) << 2);
      for (let c = 0; c < NR; c++) {
        const v: f32 = c < cols ? load<f32>(b + (<usize>((k0 + k) * rsB + (j0 + jp + c) * csB) << 2)) : 0;
        store<f32>(p + (<usize>c << 2), v);
      }
    }
  }
}

/**
 * The MR×NR micro-kernel over packed panels: `tile = Σ_k a[k]ᵀ·b[k]`, then C (rows×cols valid, row
 * stride ldc floats) is set to the tile (`accumulate` 0) or has it added (`accumulate` 1).
 */
function micro(kc: i32, ap: usize, bp: usize, c: usize, ldc: i32, rows: i32, cols: i32, accumulate: i32, tile: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let a = v128.load32_splat(ap);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(ap, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(ap, 8);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(ap, 12);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    ap += MR << 2;
    bp += NR << 2;
  }
  const ld = <usize>ldc << 2;
  if (rows === MR && cols === NR) {
    if (accumulate) {
      c00 = f32x4.add(c00, v128.load(c)); c01 = f32x4.add(c01, v128.load(c, 16));
      c10 = f32x4.add(c10, v128.load(c + ld)); c11 = f32x4.add(c11, v128.load(c + ld, 16));
      c20 = f32x4.add(c20, v128.load(c + 2 * ld)); c21 = f32x4.add(c21, v128.load(c + 2 * ld, 16));
      c30 = f32x4.add(c30, v128.load(c + 3 * ld)); c31 = f32x4.add(c31, v128.load(c + 3 * ld, 16));
    }
    v128.store(c, c00); v128.store(c, c01, 16);
    v128.store(c + ld, c10); v128.store(c + ld, c11, 16);
    v128.store(c + 2 * ld, c20); v128.store(c + 2 * ld, c21, 16);
    v128.store(c + 3 * ld, c30); v128.store(c + 3 * ld, c31, 16);
    return;
  }
  // Edge tile: through the scratch tile, then the valid part only.
  v128.store(tile, c00); v128.store(tile, c01, 16);
  v128.store(tile, c10, 32); v128.store(tile, c11, 48);
  v128.store(tile, c20, 64); v128.store(tile, c21, 80);
  v128.store(tile, c30, 96); v128.store(tile, c31, 112);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) {
      const dst = c + <usize>r * ld + (<usize>j << 2);
      const t = load<f32>(tile + (<usize>(r * NR + j) << 2));
      store<f32>(dst, accumulate ? load<f32>(dst) + t : t);
    }
  }
}

/**
 * `C = A·B` for one matrix pair. A element (i, k) is at `a + 4·(i·rsA + k·csA)`, B element (k, j) at
 * `b + 4·(k·rsB + j·csB)`; C is row-major `[M, N]`. `scratch` holds {@link matmulScratchBytes} bytes.
 */
export function matmul(a: usize, b: usize, c: usize, M: i32, N: i32, K: i32, rsA: i32, csA: i32, rsB: i32, csB: i32, scratch: usize): void {
  if (K === 0) {
    memory.fill(c, 0, <usize>(M * N) << 2);
    return;
  }
  const packedA = scratch;
  const packedB = scratch + (<usize>(MC * KC) << 2);
  const tile = packedB + (<usize>(KC * NC) << 2);
  for (let jc = 0; jc < N; jc += NC) {
    const nc = min<i32>(NC, N - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min<i32>(KC, K - pc);
      packB(b, rsB, csB, pc, kc, jc, nc, packedB);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = min<i32>(MC, M - ic);
        packA(a, rsA, csA, ic, mc, pc, kc, packedA);
        for (let jr = 0; jr < nc; jr += NR) {
          const cols = min<i32>(NR, nc - jr);
          const bp = packedB + (<usize>(jr * kc) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const rows = min<i32>(MR, mc - ir);
            const cp = c + (<usize>((ic + ir) * N + jc + jr) << 2);
            micro(kc, packedA + (<usize>(ir * kc) << 2), bp, cp, N, rows, cols, pc > 0 ? 1 : 0, tile);
          }
        }
      }
    }
  }
}
