/**
 * Layout kernels on one general strided copy: for every index of a box, copy the 32-bit word at
 * `srcBase + Σ c·srcStride` to `dstBase + Σ c·dstStride`. Transpose (permuted source strides), slice
 * (offset source), concat (one copy per piece into a strided window of the output) and pad (fill, then
 * copy the interior) are all this one kernel; it never looks at the dtype.
 */
import type { DType, Shape } from '@reformer/core';
import type { GpuStorage, KernelContext } from '../context.js';
import { Params, stridedOffsets, type KernelDef } from '../pipelines.js';
import { grid } from '../runtime.js';
import { collapse, sizeOf, stridesOf } from '../shape.js';
import { fill } from './elementwise.js';

const WG = 64;
const defs = new Map<number, KernelDef>();

function copyDef(rank: number): KernelDef {
  let def = defs.get(rank);
  if (def) return def;
  const shapeAt = 1;
  const src = { name: 'os', base: `${shapeAt + rank}u`, strides: `${shapeAt + rank + 1}u` };
  const dst = { name: 'od', base: `${shapeAt + 2 * rank + 1}u`, strides: `${shapeAt + 2 * rank + 2}u` };
  def = {
    key: `copy:r${rank}`,
    bindings: [
      { name: 'SRC', type: 'u32', access: 'read' },
      { name: 'DST', type: 'u32', access: 'read_write' },
    ],
    source: () => `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let idx = flatGroup(wid, nwg) * ${WG}u + lid;
  if (idx >= pu(0u)) { return; }
  ${stridedOffsets(rank, `${shapeAt}u`, [src, dst])}
  DST[od] = SRC[os];
}`,
  };
  defs.set(rank, def);
  return def;
}

/** Copies the box `box` from `src` (base, strides) into `dst` (base, strides). */
export function stridedCopy(
  ctx: KernelContext,
  src: GpuStorage,
  srcBase: number,
  srcStrides: readonly number[],
  dst: GpuStorage,
  dstBase: number,
  dstStrides: readonly number[],
  box: Shape,
): void {
  const n = sizeOf(box);
  if (n === 0) return;
  const c = collapse(box, [srcStrides, dstStrides]);
  const rank = c.shape.length;
  const p = new Params();
  p.u32(n);
  p.list(c.shape);
  p.u32(srcBase);
  p.list(c.strides[0]!);
  p.u32(dstBase);
  p.list(c.strides[1]!);
  ctx.rt.dispatch(copyDef(rank), [src.buffer, dst.buffer], p, grid(Math.ceil(n / WG)));
}

/** Output axis i is input axis `perm[i]`. */
export function transpose(ctx: KernelContext, x: GpuStorage, shape: Shape, perm: readonly number[], dtype: DType): GpuStorage {
  const outShape = perm.map((a) => shape[a]!);
  const out = ctx.alloc(sizeOf(outShape), dtype);
  const inStrides = stridesOf(shape);
  stridedCopy(
    ctx,
    x,
    0,
    perm.map((a) => inStrides[a]!),
    out,
    0,
    stridesOf(outShape),
    outShape,
  );
  return out;
}

/** The box `begin .. begin + size`. */
export function slice(
  ctx: KernelContext,
  x: GpuStorage,
  shape: Shape,
  begin: readonly number[],
  size: readonly number[],
  dtype: DType,
): GpuStorage {
  const out = ctx.alloc(sizeOf(size), dtype);
  const st = stridesOf(shape);
  const base = begin.reduce((acc, b, i) => acc + b * st[i]!, 0);
  stridedCopy(ctx, x, base, st, out, 0, stridesOf(size), size);
  return out;
}

/** Joins pieces along `axis`. */
export function concat(
  ctx: KernelContext,
  xs: readonly { storage: GpuStorage; shape: Shape }[],
  axis: number,
  dtype: DType,
): { storage: GpuStorage; shape: number[] } {
  const outShape = [...xs[0]!.shape];
  outShape[axis] = xs.reduce((a, x) => a + x.shape[axis]!, 0);
  const out = ctx.alloc(sizeOf(outShape), dtype);
  const ost = stridesOf(outShape);
  let off = 0;
  for (const x of xs) {
    stridedCopy(ctx, x.storage, 0, stridesOf(x.shape), out, off * ost[axis]!, ost, x.shape);
    off += x.shape[axis]!;
  }
  return { storage: out, shape: outShape };
}

/** Pads every axis with `value`. */
export function pad(
  ctx: KernelContext,
  x: GpuStorage,
  shape: Shape,
  paddings: readonly (readonly [number, number])[],
  value: number,
  dtype: DType,
): GpuStorage {
  const outShape = shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]);
  const out = fill(ctx, outShape, value, dtype);
  const ost = stridesOf(outShape);
  const base = paddings.reduce((acc, pd, i) => acc + pd[0] * ost[i]!, 0);
  stridedCopy(ctx, x, 0, stridesOf(shape), out, base, ost, shape);
  return out;
}
