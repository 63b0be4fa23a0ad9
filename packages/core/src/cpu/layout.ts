/**
 * Layout kernels: transpose, slice, concat and pad, for any rank.
 *
 * Each is a strided copy planned by {@link planRows}: axes that stay contiguous are merged, so the
 * common cases become long contiguous runs copied with `TypedArray.set`. A transpose whose innermost
 * output axis is strided in the input is copied in square tiles, so reads and writes both stay in cache.
 */
import type { Shape } from '../types.js';
import { allocLike, type CpuStorage } from './storage.js';
import { contiguousStrides, copyRun, planRows, product } from './strided.js';

/** Tile edge of the blocked transpose. */
const TILE = 32;

/** Permutes axes: output axis i is input axis `perm[i]`. */
export function transpose(x: CpuStorage, shape: Shape, perm: readonly number[]): CpuStorage {
  const outShape = perm.map((p) => shape[p]!);
  const out = allocLike(x, x.length);
  if (x.length === 0) return out;
  const inStrides = contiguousStrides(shape);
  const plan = planRows(outShape, [contiguousStrides(outShape), perm.map((p) => inStrides[p]!)]);
  const [oOffs, xOffs] = plan.offsets as [Int32Array, Int32Array];
  const xStep = plan.step[1]!;
  const n = plan.rowLength;
  if (xStep === 1 || plan.rowCount === 1) {
    for (let r = 0; r < plan.rowCount; r++) copyRun(x, xOffs[r]!, xStep, out, oOffs[r]!, n);
    return out;
  }
  // The innermost output axis is strided in x. When the next output axis is the one contiguous in x,
  // each group of P rows is a P × n transpose: copy it in tiles.
  const rank = plan.dims.length;
  const P = rank >= 2 && plan.strides[1]![rank - 2] === 1 ? plan.dims[rank - 2]! : 1;
  if (P < 2) {
    for (let r = 0; r < plan.rowCount; r++) copyRun(x, xOffs[r]!, xStep, out, oOffs[r]!, n);
    return out;
  }
  for (let g = 0; g < plan.rowCount; g += P) transposeTiles(x, xOffs[g]!, xStep, out, oOffs[g]!, n, P);
  return out;
}

/**
 * `out[oBase + i·n + j] = x[xBase + i + j·xStep]` for i < m, j < n, in TILE × TILE tiles.
 */
function transposeTiles(x: CpuStorage, xBase: number, xStep: number, out: CpuStorage, oBase: number, n: number, m: number): void {
  for (let i0 = 0; i0 < m; i0 += TILE) {
    const i1 = Math.min(i0 + TILE, m);
    for (let j0 = 0; j0 < n; j0 += TILE) {
      const j1 = Math.min(j0 + TILE, n);
      for (let i = i0; i < i1; i++) {
        let xi = xBase + i + j0 * xStep;
        const oRow = oBase + i * n;
        for (let j = j0; j < j1; j++) {
          out[oRow + j] = x[xi]!;
          xi += xStep;
        }
      }
    }
  }
}

/** The box `begin[i] .. begin[i] + size[i]` of every axis. */
export function slice(x: CpuStorage, shape: Shape, begin: readonly number[], size: readonly number[]): CpuStorage {
  const out = allocLike(x, product(size));
  if (out.length === 0) return out;
  const inStrides = contiguousStrides(shape);
  let base = 0;
  for (let i = 0; i < shape.length; i++) base += begin[i]! * inStrides[i]!;
  const plan = planRows(size, [contiguousStrides(size), inStrides]);
  const [oOffs, xOffs] = plan.offsets as [Int32Array, Int32Array];
  const xStep = plan.step[1]!;
  for (let r = 0; r < plan.rowCount; r++) copyRun(x, base + xOffs[r]!, xStep, out, oOffs[r]!, plan.rowLength);
  return out;
}

/** Joins tensors along `axis`; all other axes agree. */
export function concat(xs: readonly { data: CpuStorage; shape: Shape }[], axis: number, like: CpuStorage): CpuStorage {
  const first = xs[0]!.shape;
  let total = 0;
  for (const x of xs) total += x.shape[axis]!;
  const outer = product(first.slice(0, axis));
  const inner = product(first.slice(axis + 1));
  const outBlock = total * inner;
  const out = allocLike(like, outer * outBlock);
  if (out.length === 0) return out;
  let start = 0;
  for (const x of xs) {
    const block = x.shape[axis]! * inner;
    for (let o = 0; o < outer; o++) copyRun(x.data, o * block, 1, out, o * outBlock + start, block);
    start += block;
  }
  return out;
}

/** Pads every axis with `paddings[i] = [before, after]` copies of `value`. */
export function pad(x: CpuStorage, shape: Shape, paddings: readonly (readonly [number, number])[], value: number): CpuStorage {
  const outShape = shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]);
  const out = allocLike(x, product(outShape));
  out.fill(x instanceof Int32Array ? Math.trunc(value) : value);
  if (x.length === 0) return out;
  const outStrides = contiguousStrides(outShape);
  let base = 0;
  for (let i = 0; i < shape.length; i++) base += paddings[i]![0] * outStrides[i]!;
  const plan = planRows(shape, [contiguousStrides(shape), outStrides]);
  const [xOffs, oOffs] = plan.offsets as [Int32Array, Int32Array];
  const oStep = plan.step[1]!;
  const n = plan.rowLength;
  for (let r = 0; r < plan.rowCount; r++) {
    const xi = xOffs[r]!;
    const oi = base + oOffs[r]!;
    if (oStep === 1) {
      copyRun(x, xi, 1, out, oi, n);
    } else {
      for (let i = 0; i < n; i++) out[oi + i * oStep] = x[xi + i]!;
    }
  }
  return out;
}
