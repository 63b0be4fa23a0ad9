/**
 * Row kernels over the last axis: softmax and logsumexp. One workgroup per row; the row maximum and
 * the sum of `exp(x − max)` are tree reductions in workgroup memory (max-shifted, so ±1e4 rows do not
 * overflow).
 */
import type { Shape } from '@reformer/core';
import type { GpuStorage, KernelContext } from '../context.js';
import { Params, type KernelDef } from '../pipelines.js';
import { grid } from '../runtime.js';
import { sizeOf } from '../shape.js';
import { foldStep, reduceWorkgroup, treeReduce } from './reduce.js';

const defs = new Map<string, KernelDef>();

/** WGSL that leaves the row max in `rowMax` and Σ exp(x − rowMax) in `rowSum` (row at `base`, length D). */
export function rowStatsWgsl(wg: number, x: string): string {
  return `
  var m = (-f32Inf());
  for (var i = lid; i < D; i = i + ${wg}u) { m = max(m, ${x}[base + i]); }
  SH[lid] = m;
  ${treeReduce(wg, foldStep('SH', (a, b) => `max(${a}, ${b})`))}
  let rowMax = select(SH[0], 0.0, SH[0] == (-f32Inf()));
  workgroupBarrier();
  var s = 0.0;
  for (var i = lid; i < D; i = i + ${wg}u) { s = s + exp(${x}[base + i] - rowMax); }
  SH[lid] = s;
  ${treeReduce(wg, foldStep('SH', (a, b) => `${a} + ${b}`))}
  let rowSum = SH[0];`;
}

function rowDef(kind: 'softmax' | 'logSumExp', wg: number): KernelDef {
  const key = `${kind}:wg${wg}`;
  let def = defs.get(key);
  if (def) return def;
  def = {
    key,
    bindings: [
      { name: 'X', type: 'f32', access: 'read' },
      { name: 'OUT', type: 'f32', access: 'read_write' },
    ],
    source: () => `
var<workgroup> SH: array<f32, ${wg}>;
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = flatGroup(wid, nwg);
  if (row >= pu(0u)) { return; }
  let D = pu(1u);
  let base = row * D;
  ${rowStatsWgsl(wg, 'X')}
  ${
    kind === 'softmax'
      ? `for (var i = lid; i < D; i = i + ${wg}u) { OUT[base + i] = exp(X[base + i] - rowMax) / rowSum; }`
      : 'if (lid == 0u) { OUT[row] = rowMax + log(rowSum); }'
  }
}`,
  };
  defs.set(key, def);
  return def;
}

function runRows(ctx: KernelContext, kind: 'softmax' | 'logSumExp', x: GpuStorage, shape: Shape): GpuStorage {
  const D = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  const rows = D === 0 ? sizeOf(shape.slice(0, -1)) : sizeOf(shape) / D;
  const out = ctx.alloc(kind === 'softmax' ? sizeOf(shape) : rows, 'float32');
  if (rows === 0 || (kind === 'softmax' && D === 0)) return out;
  const p = new Params();
  p.u32(rows);
  p.u32(D);
  ctx.rt.dispatch(rowDef(kind, reduceWorkgroup(D)), [x.buffer, out.buffer], p, grid(rows));
  return out;
}

/** Softmax over the last axis. */
export function softmax(ctx: KernelContext, x: GpuStorage, shape: Shape): GpuStorage {
  return runRows(ctx, 'softmax', x, shape);
}

/** Stable logsumexp over the last axis (removed). */
export function logSumExp(ctx: KernelContext, x: GpuStorage, shape: Shape): GpuStorage {
  return runRows(ctx, 'logSumExp', x, shape);
}
