/**
 * Batched matrix product.
 *
 * The classic packed GEMM structure (Goto & van de Geijn), simplified for a JS engine:
 *  - B is packed, a slab of up to `nc` columns at a time, into panels of {@link NR} columns laid out
 *    k-major (`K × NR`, contiguous), and A, a block of up to `mc` rows at a time, into panels of
 *    {@link MR} rows (`K × MR`). Transposed inputs are handled here, by the packing strides, so there is
 *    one compute kernel. Panels are zero-padded to full width at the matrix edges.
 *  - A register-blocked micro-kernel computes an `MR × NR` tile of C with 12 accumulators in local
 *    variables, running over the whole K (in doubles, so the sum is exact up to double rounding and is
 *    rounded to float32 once, on store). The block sizes keep a packed A block in L2 and each B panel hot
 *    in L1 while it sweeps the A panels.
 *  - Leading batch axes broadcast: a batch index whose operand does not change reuses the packed copy.
 *
 * The packed buffers are Float64Array so the inner loop reads doubles directly. Indices are kept int32
 * with `| 0`, which lets the compiler drop overflow checks in the inner loop.
 */
import type { Shape } from '../types.js';
import { broadcastStrides, outerOffsets, product } from './strided.js';

/** Rows of A per micro-tile. */
const MR = 3;
/** Columns of B per micro-tile. */
const NR = 4;
/** Target doubles in a packed A block (512 KiB: L2). */
const A_BLOCK_DOUBLES = 1 << 16;
/** Target doubles in a packed B slab (2 MiB). */
const B_SLAB_DOUBLES = 1 << 18;

/**
 * `C = op(A) · op(B)` for every batch index, with `op` a transpose when the flag is set. `a` is
 * `[..., M, K]` (`[..., K, M]` transposed), `b` is `[..., K, N]` (`[..., N, K]` transposed), and the
 * batch axes broadcast to `outShape` `[..., M, N]`.
 */
export function matmul(
  a: Float32Array,
  aShape: Shape,
  b: Float32Array,
  bShape: Shape,
  transposeA: boolean,
  transposeB: boolean,
  outShape: Shape,
): Float32Array {
  const rank = outShape.length;
  const M = outShape[rank - 2]!;
  const N = outShape[rank - 1]!;
  const K = transposeA ? aShape[aShape.length - 2]! : aShape[aShape.length - 1]!;
  const out = new Float32Array(product(outShape));
  if (M === 0 || N === 0 || K === 0 || out.length === 0) return out;

  // Element (i, k) of op(A) is a[aOff + i·aRow + k·aCol]; element (k, j) of op(B) is b[bOff + k·bRow + j·bCol].
  const aRow = transposeA ? 1 : K;
  const aCol = transposeA ? M : 1;
  const bRow = transposeB ? 1 : N;
  const bCol = transposeB ? K : 1;

  // Batch offsets (in elements) of each operand, 0-strided on broadcast axes.
  const batchShape = outShape.slice(0, rank - 2);
  const aBatchStrides = broadcastStrides(aShape.slice(0, aShape.length - 2), batchShape).map((s) => s * M * K);
  const bBatchStrides = broadcastStrides(bShape.slice(0, bShape.length - 2), batchShape).map((s) => s * K * N);
  const [aOffsets, bOffsets] = outerOffsets(batchShape, [aBatchStrides, bBatchStrides]) as [Int32Array, Int32Array];

  if (M === 1 || N === 1) {
    // Matrix-vector products: packing would cost as much as the product itself.
    const acc = new Float64Array(Math.max(M, N));
    for (let batch = 0; batch < aOffsets.length; batch++) {
      const aOff = aOffsets[batch]!;
      const bOff = bOffsets[batch]!;
      if (M === 1) {
        // out[j] = Σ_k A(0, k)·B(k, j)
        vectorTimesMatrix(a, aOff, aCol, b, bOff, bRow, bCol, K, N, acc, out, batch * N);
      } else {
        // out[i] = Σ_k B(k, 0)·A(i, k)
        vectorTimesMatrix(b, bOff, bRow, a, aOff, aCol, aRow, K, M, acc, out, batch * M);
      }
    }
    return out;
  }

  // Block sizes: a packed A block of mc rows and a packed B slab of nc columns, each over the whole K.
  const mc = Math.min(roundUp(M, MR), Math.max(8 * MR, roundDown(A_BLOCK_DOUBLES / K, MR)));
  const nc = Math.min(roundUp(N, NR), Math.max(16 * NR, roundDown(B_SLAB_DOUBLES / K, NR)));
  const aPacked = new Float64Array(mc * K);
  const bPacked = new Float64Array(nc * K);
  const singleABlock = mc >= M;
  const singleBSlab = nc >= N;
  let packedAOffset = -1;
  let packedBOffset = -1;

  for (let batch = 0; batch < aOffsets.length; batch++) {
    const aOff = aOffsets[batch]!;
    const bOff = bOffsets[batch]!;
    const cOff = batch * M * N;
    for (let jc = 0; jc < N; jc += nc) {
      const ncCur = Math.min(nc, N - jc);
      if (!(singleBSlab && bOff === packedBOffset)) {
        for (let jp = 0; jp < ncCur; jp += NR) {
          packB(b, bOff, bRow, bCol, jc + jp, Math.min(NR, N - jc - jp), K, bPacked, jp * K);
        }
        packedBOffset = singleBSlab ? bOff : -1;
      }
      for (let ic = 0; ic < M; ic += mc) {
        const mcCur = Math.min(mc, M - ic);
        if (!(singleABlock && aOff === packedAOffset)) {
          for (let ip = 0; ip < mcCur; ip += MR) {
            packA(a, aOff, aRow, aCol, ic + ip, Math.min(MR, M - ic - ip), K, aPacked, ip * K);
          }
          packedAOffset = singleABlock ? aOff : -1;
        }
        // Each B panel stays hot while it meets every A panel of the block.
        for (let jp = 0; jp < ncCur; jp += NR) {
          const j = jc + jp;
          const cols = Math.min(NR, N - j);
          for (let ip = 0; ip < mcCur; ip += MR) {
            const i = ic + ip;
            kernel3x4(aPacked, ip * K, bPacked, jp * K, K, out, cOff + i * N + j, N, Math.min(MR, M - i), cols);
          }
        }
      }
    }
  }
  return out;
}

/**
 * `out[outOff + j] = Σ_k x[xOff + k·xStep] · m[mOff + k·mRow + j·mCol]` for j < len: an axpy sweep over
 * the rows of m when its columns are contiguous (accumulating in `acc`), otherwise one dot product per
 * output along the contiguous axis.
 */
function vectorTimesMatrix(
  x: Float32Array,
  xOff: number,
  xStep: number,
  m: Float32Array,
  mOff: number,
  mRow: number,
  mCol: number,
  K: number,
  len: number,
  acc: Float64Array,
  out: Float32Array,
  outOff: number,
): void {
  if (mCol === 1) {
    acc.fill(0, 0, len);
    for (let k = 0; k < K; k++) {
      const xk = x[xOff + k * xStep]!;
      const row = mOff + k * mRow;
      for (let j = 0; j < len; j++) acc[j] = acc[j]! + xk * m[row + j]!;
    }
    for (let j = 0; j < len; j++) out[outOff + j] = acc[j]!;
    return;
  }
  for (let j = 0; j < len; j++) {
    const col = mOff + j * mCol;
    let s = 0;
    for (let k = 0; k < K; k++) s += x[xOff + k * xStep]! * m[col + k * mRow]!;
    out[outOff + j] = s;
  }
}

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

function roundDown(n: number, m: number): number {
  return Math.floor(n / m) * m;
}

/**
 * Packs rows `i0 .. i0 + rows` of op(A) (rows <= MR) into `dst[dstOff + p·MR + r]`, zero-padding the
 * rows past `rows`.
 */
function packA(
  a: Float32Array,
  aOff: number,
  aRow: number,
  aCol: number,
  i0: number,
  rows: number,
  K: number,
  dst: Float64Array,
  dstOff: number,
): void {
  if (aCol === 1) {
    // Rows are contiguous in A: read each row straight through.
    for (let r = 0; r < rows; r++) {
      const src = aOff + (i0 + r) * aRow;
      let d = dstOff + r;
      for (let p = 0; p < K; p++, d += MR) dst[d] = a[src + p]!;
    }
  } else {
    // Columns are contiguous (transposed A): read MR neighbours per k.
    for (let p = 0; p < K; p++) {
      const src = aOff + i0 * aRow + p * aCol;
      const d = dstOff + p * MR;
      for (let r = 0; r < rows; r++) dst[d + r] = a[src + r * aRow]!;
    }
  }
  if (rows < MR) {
    for (let p = 0; p < K; p++) for (let r = rows; r < MR; r++) dst[dstOff + p * MR + r] = 0;
  }
}

/**
 * Packs columns `j0 .. j0 + cols` of op(B) (cols <= NR) into `dst[dstOff + p·NR + q]`, zero-padding the
 * columns past `cols`.
 */
function packB(
  b: Float32Array,
  bOff: number,
  bRow: number,
  bCol: number,
  j0: number,
  cols: number,
  K: number,
  dst: Float64Array,
  dstOff: number,
): void {
  if (bCol === 1) {
    // Rows of B are contiguous: NR neighbours per k.
    for (let p = 0; p < K; p++) {
      const src = bOff + p * bRow + j0;
      const d = dstOff + p * NR;
      for (let q = 0; q < cols; q++) dst[d + q] = b[src + q]!;
    }
  } else {
    // Transposed B: each column is contiguous.
    for (let q = 0; q < cols; q++) {
      const src = bOff + (j0 + q) * bCol;
      let d = dstOff + q;
      for (let p = 0; p < K; p++, d += NR) dst[d] = b[src + p * bRow]!;
    }
  }
  if (cols < NR) {
    for (let p = 0; p < K; p++) for (let q = cols; q < NR; q++) dst[dstOff + p * NR + q] = 0;
  }
}

/** Staging area of an edge tile (single-threaded: never in use twice at once). */
const EDGE_TILE = new Float64Array(MR * NR);

/**
 * The micro-kernel: `c[cOff + r·ldc + q] = Σ_p a[aOff + p·3 + r] · b[bOff + p·4 + q]` for the 3 × 4
 * tile, over `kc` values of p, accumulated in 12 local doubles; only the first `rows` × `cols` entries
 * are stored (edge tiles).
 *
 * Its size (with the edge path) keeps the engine from inlining it into the driver loop, where register
 * allocation of the 12 accumulators gets worse (measurably slower in V8).
 */
function kernel3x4(
  a: Float64Array,
  aOff: number,
  b: Float64Array,
  bOff: number,
  kc: number,
  c: Float32Array,
  cOff: number,
  ldc: number,
  rows: number,
  cols: number,
): void {
  let c00 = 0.0;
  let c01 = 0.0;
  let c02 = 0.0;
  let c03 = 0.0;
  let c10 = 0.0;
  let c11 = 0.0;
  let c12 = 0.0;
  let c13 = 0.0;
  let c20 = 0.0;
  let c21 = 0.0;
  let c22 = 0.0;
  let c23 = 0.0;
  let ib = bOff | 0;
  const aEnd = (aOff + kc * 3) | 0;
  for (let ia = aOff | 0; ia < aEnd; ia = (ia + 3) | 0) {
    const a0 = a[ia]!;
    const a1 = a[(ia + 1) | 0]!;
    const a2 = a[(ia + 2) | 0]!;
    const b0 = b[ib]!;
    const b1 = b[(ib + 1) | 0]!;
    const b2 = b[(ib + 2) | 0]!;
    const b3 = b[(ib + 3) | 0]!;
    c00 += a0 * b0;
    c01 += a0 * b1;
    c02 += a0 * b2;
    c03 += a0 * b3;
    c10 += a1 * b0;
    c11 += a1 * b1;
    c12 += a1 * b2;
    c13 += a1 * b3;
    c20 += a2 * b0;
    c21 += a2 * b1;
    c22 += a2 * b2;
    c23 += a2 * b3;
    ib = (ib + 4) | 0;
  }
  if (rows === MR && cols === NR) {
    const r1 = cOff + ldc;
    const r2 = r1 + ldc;
    c[cOff] = c00;
    c[cOff + 1] = c01;
    c[cOff + 2] = c02;
    c[cOff + 3] = c03;
    c[r1] = c10;
    c[r1 + 1] = c11;
    c[r1 + 2] = c12;
    c[r1 + 3] = c13;
    c[r2] = c20;
    c[r2 + 1] = c21;
    c[r2 + 2] = c22;
    c[r2 + 3] = c23;
    return;
  }
  // Edge tile: stage the accumulators, copy the valid rows × cols.
  const t = EDGE_TILE;
  t[0] = c00;
  t[1] = c01;
  t[2] = c02;
  t[3] = c03;
  t[4] = c10;
  t[5] = c11;
  t[6] = c12;
  t[7] = c13;
  t[8] = c20;
  t[9] = c21;
  t[10] = c22;
  t[11] = c23;
  for (let r = 0; r < rows; r++) {
    for (let q = 0; q < cols; q++) c[cOff + r * ldc + q] = t[r * NR + q]!;
  }
}
