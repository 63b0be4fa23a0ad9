/**
 * Reductions: one workgroup per output element (or per part of it, when a few outputs reduce many
 * values: then a second pass reduces the parts; or one invocation per output when each reduces at
 * most 16 values). Each invocation folds a strided slice of the reduced
 * index space (read through the input's strides over the reduced axes, so no transpose is needed),
 * then the workgroup combines the partial results with the reducers of `rows.ts` (a tree in workgroup
 * memory, or subgroup operations where the device has them).
 * `argMax` is the same kernel over (value, index) pairs, keeping the first maximum; as on the CPU,
 * NaN never counts as greater (index 0 when a slice holds only NaN), and float max/min propagate NaN.
 */
import type { DType, ReduceOp, Shape } from '@reformer/core';
import { elemType, type GpuStorage, type KernelContext } from '../context.js';
import { Params, stridedOffsets, type KernelDef } from '../pipelines.js';
import { grid } from '../runtime.js';
import { collapse, sizeOf, stridesOf } from '../shape.js';
import { combiner, entryPoint, modeEnables, reduceWorkgroup, treeReduce, workgroupReducers, type ReduceMode } from './rows.js';

const defs = new Map<string, KernelDef>();

/** Reductions of at most this many values per output run one invocation per output. */
const SHORT = 16;

function reduceDef(
  op: ReduceOp | 'argMax',
  t: 'f32' | 'i32',
  keptRank: number,
  redRank: number,
  wg: number,
  requested: ReduceMode,
): KernelDef {
  // argMax reduces (value, index) pairs: always the tree.
  const mode: ReduceMode = op === 'argMax' ? 'tree' : requested;
  const key = `reduce:${op}:${t}:k${keptRank}:r${redRank}:wg${wg}:${mode}`;
  let def = defs.get(key);
  if (def) return def;
  // Words: 0 nOut, 1 nRed, 2 parts per output, 3 reduced indices per part, kept shape/strides,
  // red shape/strides. Workgroup w reduces part w % parts of output w / parts into OUT[w].
  const keptAt = 4;
  const redAt = keptAt + 2 * keptRank + 1;
  const { ident, combine, isArg, better, same } = reduceOps(op, t);
  const outType = isArg ? 'i32' : t;
  const argTree = `var<workgroup> SH: array<${t}, ${wg}>;
var<workgroup> SI: array<u32, ${wg}>;`;
  const finish = isArg
    ? `SH[lid] = acc;
  SI[lid] = accI;
  ${treeReduce(
    wg,
    (st) => `let j = lid + ${st}u; let a = SH[lid]; let b = SH[j];
    if (SI[j] != 0xffffffffu && (SI[lid] == 0xffffffffu || ${better('a', 'b')} || (${same('a', 'b')} && SI[j] < SI[lid]))) { SH[lid] = b; SI[lid] = SI[j]; }`,
  )}
  if (lid == 0u) { OUT[w] = select(i32(SI[0]), 0, SI[0] == 0xffffffffu); }`
    : `let total = wgReduce(acc);
  if (lid == 0u) { OUT[w] = total; }`;
  def = {
    key,
    enables: modeEnables(mode),
    bindings: [
      { name: 'X', type: t, access: 'read' },
      { name: 'OUT', type: outType, access: 'read_write' },
    ],
    source: () => `
${isArg ? `${argTree}\n${workgroupReducers(wg, mode, [])}` : workgroupReducers(wg, mode, [{ name: 'wgReduce', type: t, op: op as ReduceOp, nanSafe: true }])}
${entryPoint(wg, mode)}
  let w = flatGroup(wid, nwg);
  let nOut = pu(0u); let nRed = pu(1u); let parts = pu(2u); let chunk = pu(3u);
  if (w >= nOut * parts) { return; }
  let o = w / parts;
  let rBegin = (w % parts) * chunk;
  let rEnd = min(nRed, rBegin + chunk);
  ${stridedOffsets(keptRank, `${keptAt}u`, [{ name: 'base', base: `${keptAt + keptRank}u`, strides: `${keptAt + keptRank + 1}u` }], 'o')}
  var acc: ${t} = ${ident};
  var accI: u32 = 0xffffffffu;
  for (var r = rBegin + lid; r < rEnd; r = r + ${wg}u) {
    ${stridedOffsets(redRank, `${redAt}u`, [{ name: 'off', base: `${redAt + redRank}u`, strides: `${redAt + redRank + 1}u` }], 'r')}
    let v = X[base + off];
    ${isArg ? `if (accI == 0xffffffffu || ${better('acc', 'v')}) { acc = v; accI = r; }` : `acc = ${combine('acc', 'v')};`}
  }
  ${finish}
}`,
  };
  defs.set(key, def);
  return def;
}

/**
 * The variant for short reductions (many outputs of a few values each, e.g. summing hash rounds): one
 * invocation per output folds its values in order, instead of a mostly idle workgroup per output.
 */
function reduceThreadDef(op: ReduceOp | 'argMax', t: 'f32' | 'i32', keptRank: number, redRank: number): KernelDef {
  const key = `reduceShort:${op}:${t}:k${keptRank}:r${redRank}`;
  let def = defs.get(key);
  if (def) return def;
  const keptAt = 4;
  const redAt = keptAt + 2 * keptRank + 1;
  const { ident, combine, isArg, better } = reduceOps(op, t);
  def = {
    key,
    bindings: [
      { name: 'X', type: t, access: 'read' },
      { name: 'OUT', type: isArg ? 'i32' : t, access: 'read_write' },
    ],
    source: () => `
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let o = flatGroup(wid, nwg) * 64u + lid;
  if (o >= pu(0u)) { return; }
  ${stridedOffsets(keptRank, `${keptAt}u`, [{ name: 'base', base: `${keptAt + keptRank}u`, strides: `${keptAt + keptRank + 1}u` }], 'o')}
  var acc: ${t} = ${ident};
  var accI: u32 = 0xffffffffu;
  for (var r = 0u; r < pu(1u); r = r + 1u) {
    ${stridedOffsets(redRank, `${redAt}u`, [{ name: 'off', base: `${redAt + redRank}u`, strides: `${redAt + redRank + 1}u` }], 'r')}
    let v = X[base + off];
    ${isArg ? `if (accI == 0xffffffffu || ${better('acc', 'v')}) { acc = v; accI = r; }` : `acc = ${combine('acc', 'v')};`}
  }
  OUT[o] = ${isArg ? 'select(i32(accI), 0, accI == 0xffffffffu)' : 'acc'};
}`,
  };
  defs.set(key, def);
  return def;
}

/** The identity and combination of a reduction op in WGSL. */
function reduceOps(
  op: ReduceOp | 'argMax',
  t: 'f32' | 'i32',
): {
  ident: string;
  combine: (a: string, b: string) => string;
  isArg: boolean;
  better: (cur: string, cand: string) => string;
  same: (a: string, b: string) => string;
} {
  const ident =
    op === 'sum'
      ? `${t}(0)`
      : op === 'min'
        ? t === 'f32'
          ? 'f32Inf()'
          : 'i32(2147483647)'
        : t === 'f32'
          ? '(-f32Inf())'
          : 'i32(-2147483648)';
  // Float max/min propagate NaN, as the workgroup reducers do.
  const combine = combiner({ type: t, op: op === 'argMax' ? 'max' : op, nanSafe: true });
  // argMax: `cand` replaces `cur` when greater, or when `cur` is NaN and `cand` is not (NaN never wins);
  // `same`: a tie (equal, or both NaN), broken by the lower index.
  const better = (cur: string, cand: string) =>
    t === 'f32' ? `(${cand} > ${cur} || (isNan(${cur}) && !isNan(${cand})))` : `${cand} > ${cur}`;
  const same = (a: string, b: string) => (t === 'f32' ? `(${b} == ${a} || (isNan(${a}) && isNan(${b})))` : `${b} == ${a}`);
  return { ident, combine, isArg: op === 'argMax', better, same };
}

/** Reduces `x` over `axes` (sorted, distinct); reduced axes are removed. */
export function reduce(
  ctx: KernelContext,
  op: ReduceOp | 'argMax',
  x: GpuStorage,
  shape: Shape,
  axes: readonly number[],
  dtype: DType,
): GpuStorage {
  const out = ctx.alloc(sizeOf(shape.filter((_, i) => !axes.includes(i))), op === 'argMax' ? 'int32' : dtype);
  reduceInto(ctx, op, x, shape, axes, dtype, out);
  return out;
}

/** Sums float32 `x` of `[outer, n, inner]` over the middle axis into existing storage `out`. */
export function sumInto(ctx: KernelContext, x: GpuStorage, shape: [number, number, number], out: GpuStorage): void {
  reduceInto(ctx, 'sum', x, shape, [1], 'float32', out);
}

function reduceInto(
  ctx: KernelContext,
  op: ReduceOp | 'argMax',
  x: GpuStorage,
  shape: Shape,
  axes: readonly number[],
  dtype: DType,
  out: GpuStorage,
): void {
  const st = stridesOf(shape);
  const keptAxes = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const keptShape = keptAxes.map((i) => shape[i]!);
  const redShape = axes.map((i) => shape[i]!);
  const nOut = sizeOf(keptShape);
  const nRed = sizeOf(redShape);
  if (nOut === 0) return;
  const kept = collapse(keptShape, [keptAxes.map((i) => st[i]!)]);
  const red = collapse(redShape, [axes.map((i) => st[i]!)]);
  // Few outputs over many values: split each reduction into parts (first pass into partial results,
  // then a reduction of the parts, both in a fixed order), so more than a handful of workgroups work.
  let parts = 1;
  if (op !== 'argMax' && nRed >= 16384 && nOut < 1024) parts = Math.min(1024, Math.ceil(nRed / 4096), Math.floor(ctx.maxElements / nOut));
  const chunk = Math.max(1, Math.ceil(nRed / parts));
  parts = Math.max(1, Math.ceil(nRed / chunk));
  const partial = parts > 1 ? { buffer: ctx.scratch(nOut * parts * 4), size: nOut * parts } : out;
  const p = new Params();
  p.list([nOut, nRed, parts, chunk]);
  p.list(kept.shape);
  p.u32(0);
  p.list(kept.strides[0]!);
  p.list(red.shape);
  p.u32(0);
  p.list(red.strides[0]!);
  if (parts === 1 && nRed <= SHORT) {
    ctx.rt.dispatch(
      reduceThreadDef(op, elemType(dtype), kept.shape.length, red.shape.length),
      [x.buffer, partial.buffer],
      p,
      grid(Math.ceil(nOut / 64)),
    );
  } else {
    const def = reduceDef(op, elemType(dtype), kept.shape.length, red.shape.length, reduceWorkgroup(chunk), ctx.reduceMode);
    ctx.rt.dispatch(def, [x.buffer, partial.buffer], p, grid(nOut * parts));
  }
  if (parts > 1) {
    reduceInto(ctx, op, partial, [nOut, parts], [1], dtype, out);
    ctx.rt.recycle(partial.buffer);
  }
}
