/**
 * Batched gather along an axis and its adjoint, scatter-add. With `x` viewed as `[outer, A, inner]` and
 * indices `[outer, n]`: gather copies word `x[p, idx[p, j], r]` to `out[p, j, r]` (dtype-agnostic);
 * scatter-add zero-fills `[outer, size, inner]` and adds every update atomically (int32 with
 * `atomicAdd`, float32 with a compare-exchange loop on the bits). An index outside `[0, A)` writes 0 /
 * adds nothing and is recorded in the error buffer, which the next readback turns into an
 * `InvalidArgumentError`.
 */
import type { DType, Shape } from '@reformer/core';
import type { GpuStorage, KernelContext } from '../context.js';
import { Params, type KernelDef } from '../pipelines.js';
import { checkedOpCode, grid, RECORD_ERROR_WGSL } from '../runtime.js';
import { sizeOf } from '../shape.js';
import { zeroInto } from './elementwise.js';

const WG = 64;

const HEADER = `
${RECORD_ERROR_WGSL}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let idx = flatGroup(wid, nwg) * ${WG}u + lid;
  let total = pu(0u);
  let A = pu(1u);
  let n = pu(2u);
  let inner = pu(3u);
  if (idx >= total) { return; }
  let r = idx % inner;
  let pj = idx / inner;
  let p = pj / n;
  let v = IDX[pj];
  let ok = v >= 0 && u32(v) < A;
  if (!ok && r == 0u) { recordError(CODE, v, pj, A); }
  let at = (p * A + select(0u, u32(v), ok)) * inner + r;`;

const gatherDef: KernelDef = {
  key: 'gather',
  bindings: [
    { name: 'X', type: 'u32', access: 'read' },
    { name: 'IDX', type: 'i32', access: 'read' },
    { name: 'OUT', type: 'u32', access: 'read_write' },
    { name: 'ERR', type: 'atomic<u32>', access: 'read_write' },
  ],
  source: () => `
const CODE: u32 = ${checkedOpCode('gather')}u;
${HEADER}
  OUT[idx] = select(0u, X[at], ok);
}`,
};

function scatterDef(dtype: DType): KernelDef {
  const add =
    dtype === 'int32'
      ? 'atomicAdd(&OUT[at], UPD[idx]);'
      : `var old = atomicLoad(&OUT[at]);
  loop {
    let next = bitcast<u32>(bitcast<f32>(old) + bitcast<f32>(UPD[idx]));
    let res = atomicCompareExchangeWeak(&OUT[at], old, next);
    if (res.exchanged) { break; }
    old = res.old_value;
  }`;
  return {
    key: `scatterAdd:${dtype}`,
    bindings: [
      { name: 'UPD', type: 'u32', access: 'read' },
      { name: 'IDX', type: 'i32', access: 'read' },
      { name: 'OUT', type: 'atomic<u32>', access: 'read_write' },
      { name: 'ERR', type: 'atomic<u32>', access: 'read_write' },
    ],
    source: () => `
const CODE: u32 = ${checkedOpCode('scatterAdd')}u;
${HEADER}
  if (!ok) { return; }
  ${add}
}`,
  };
}
const scatterDefs = { float32: scatterDef('float32'), int32: scatterDef('int32') };

/** `out[p, j, r] = x[p, idx[p, j], r]`. */
export function gather(
  ctx: KernelContext,
  x: GpuStorage,
  shape: Shape,
  indices: GpuStorage,
  n: number,
  axis: number,
  dtype: DType,
): GpuStorage {
  const outer = sizeOf(shape.slice(0, axis));
  const A = shape[axis]!;
  const inner = sizeOf(shape.slice(axis + 1));
  const total = outer * n * inner;
  const out = ctx.alloc(total, dtype);
  if (total === 0) return out;
  const p = new Params();
  p.list([total, A, n, inner]);
  ctx.rt.dispatch(gatherDef, [x.buffer, indices.buffer, out.buffer, ctx.rt.errorBuffer], p, grid(Math.ceil(total / WG)));
  return out;
}

/** The adjoint of gather: `[outer, size, inner]`, zero except the added updates. */
export function scatterAdd(
  ctx: KernelContext,
  updates: GpuStorage,
  shape: Shape,
  indices: GpuStorage,
  axis: number,
  size: number,
  dtype: DType,
): GpuStorage {
  const outer = sizeOf(shape.slice(0, axis));
  const n = shape[axis]!;
  const inner = sizeOf(shape.slice(axis + 1));
  const out = ctx.alloc(outer * size * inner, dtype);
  zeroInto(ctx, out);
  const total = outer * n * inner;
  if (total === 0 || out.size === 0) return out;
  const p = new Params();
  p.list([total, size, n, inner]);
  ctx.rt.dispatch(scatterDefs[dtype], [updates.buffer, indices.buffer, out.buffer, ctx.rt.errorBuffer], p, grid(Math.ceil(total / WG)));
  return out;
}
