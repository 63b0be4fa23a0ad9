/**
 * Stable argsort along the last axis: a bitonic sorting network over (key, index) pairs, each row
 * padded to a power of two P. Comparing by (key, original index) makes every pair distinct, so the
 * network's order is exactly the stable order; padding slots compare greater than every real one.
 *
 * Blocks of up to {@link BLOCK} pairs are sorted and merged in workgroup memory (all steps with a
 * partner distance below BLOCK in one dispatch); only the longer-distance steps of rows longer than
 * BLOCK run as one global dispatch each.
 */
import type { DType, Shape } from '@reformer/core';
import { elemType, type GpuStorage, type KernelContext } from '../context.js';
import { defCache, Params, type KernelDef } from '../pipelines.js';
import { grid } from '../runtime.js';
import { sizeOf } from '../shape.js';

/** Pairs a workgroup sorts in workgroup memory. */
const BLOCK = 1024;
const WG = 256;

/** `less(ka, ia, kb, ib)`: by key, then index; indices ≥ n are padding (greater than everything). */
/** Float NaN keys order after every number (among themselves by index), as on the CPU backend. */
const LESS = (t: string) => `
fn less(ka: ${t}, ia: u32, kb: ${t}, ib: u32, n: u32) -> bool {
  if (ia >= n) { return false; }
  if (ib >= n) { return true; }
  ${t === 'f32' ? 'let na = isNan(ka); let nb = isNan(kb); if (na || nb) { return select(nb, ia < ib, na && nb); }' : ''}
  return ka < kb || (ka == kb && ia < ib);
}`;

const cached = defCache();

// Params: 0 n (row length), 1 P (padded), 2 k, 3 j (global step) / first k (local), 4 rows.

/** Loads a block (or fills padding), runs the local steps, writes it back. `mode` 0: full sort up to k = min(P, BLOCK); 1: merge steps j < BLOCK of stage k. */
function localDef(t: 'f32' | 'i32', first: boolean): KernelDef {
  const load = first
    ? `let gi = rowBase + i; let inRow = blockStart + i;
       KS[i] = select(${t}(0), X[row * n + inRow], inRow < n); IS[i] = inRow;`
    : `KS[i] = KEYS[rowPad + blockStart + i]; IS[i] = IDXS[rowPad + blockStart + i];`;
  return cached(`argSortLocal:${t}:${first ? 'sort' : 'merge'}`, () => ({
    bindings: [
      { name: 'X', type: t, access: 'read' },
      { name: 'KEYS', type: t, access: 'read_write' },
      { name: 'IDXS', type: 'u32', access: 'read_write' },
    ],
    source: () => `
${LESS(t)}
var<workgroup> KS: array<${t}, ${BLOCK}>;
var<workgroup> IS: array<u32, ${BLOCK}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = pu(0u); let P = pu(1u); let kStage = pu(2u); let rows = pu(4u);
  let B = min(P, ${BLOCK}u);
  let blocksPerRow = P / B;
  let g = flatGroup(wid, nwg);
  if (g >= rows * blocksPerRow) { return; }
  let row = g / blocksPerRow;
  let blockStart = (g % blocksPerRow) * B;
  let rowPad = row * P;
  let rowBase = rowPad;
  for (var i = lid; i < B; i = i + ${WG}u) { ${load} }
  workgroupBarrier();
  ${
    first
      ? `for (var k = 2u; k <= B; k = k << 1u) {
    for (var j = k >> 1u; j > 0u; j = j >> 1u) { step(lid, B, blockStart, k, j, n); }
  }`
      : `for (var j = B >> 1u; j > 0u; j = j >> 1u) { step(lid, B, blockStart, kStage, j, n); }`
  }
  for (var i = lid; i < B; i = i + ${WG}u) { KEYS[rowPad + blockStart + i] = KS[i]; IDXS[rowPad + blockStart + i] = IS[i]; }
}
fn step(lid: u32, B: u32, blockStart: u32, k: u32, j: u32, n: u32) {
  for (var t = lid; t < B / 2u; t = t + ${WG}u) {
    let i = 2u * j * (t / j) + (t % j);
    let l = i + j;
    let asc = ((blockStart + i) & k) == 0u;
    let ka = KS[i]; let ia = IS[i]; let kb = KS[l]; let ib = IS[l];
    if (less(kb, ib, ka, ia, n) == asc) { KS[i] = kb; IS[i] = ib; KS[l] = ka; IS[l] = ia; }
  }
  workgroupBarrier();
}`,
  }));
}

function globalDef(t: 'f32' | 'i32'): KernelDef {
  return cached(`argSortGlobal:${t}`, () => ({
    bindings: [
      { name: 'KEYS', type: t, access: 'read_write' },
      { name: 'IDXS', type: 'u32', access: 'read_write' },
    ],
    source: () => `
${LESS(t)}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = pu(0u); let P = pu(1u); let k = pu(2u); let j = pu(3u); let rows = pu(4u);
  let tg = flatGroup(wid, nwg) * ${WG}u + lid;
  let half = P / 2u;
  if (tg >= rows * half) { return; }
  let row = tg / half;
  let t = tg % half;
  let i = 2u * j * (t / j) + (t % j);
  let l = i + j;
  let asc = (i & k) == 0u;
  let a = row * P + i; let b = row * P + l;
  let ka = KEYS[a]; let ia = IDXS[a]; let kb = KEYS[b]; let ib = IDXS[b];
  if (less(kb, ib, ka, ia, n) == asc) { KEYS[a] = kb; IDXS[a] = ib; KEYS[b] = ka; IDXS[b] = ia; }
}`,
  }));
}

const extractDef: KernelDef = {
  key: 'argSortExtract',
  bindings: [
    { name: 'IDXS', type: 'u32', access: 'read' },
    { name: 'OUT', type: 'u32', access: 'read_write' },
  ],
  source: () => `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = pu(0u); let P = pu(1u); let rows = pu(4u);
  let e = flatGroup(wid, nwg) * ${WG}u + lid;
  if (e >= rows * n) { return; }
  OUT[e] = IDXS[(e / n) * P + (e % n)];
}`,
};

/** Stable ascending argsort along the last axis (int32 result, same shape). */
export function argSort(ctx: KernelContext, x: GpuStorage, shape: Shape, dtype: DType): GpuStorage {
  const total = sizeOf(shape);
  const out = ctx.alloc(total, 'int32');
  const n = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  if (total === 0 || n === 0) return out;
  const rows = total / n;
  const P = 2 ** Math.ceil(Math.log2(Math.max(n, 2)));
  const B = Math.min(P, BLOCK);
  const t = elemType(dtype);
  const keys = ctx.scratch(rows * P * 4);
  const idxs = ctx.scratch(rows * P * 4);
  const params = (k: number, j: number) => {
    const p = new Params();
    p.list([n, P, k, j, rows]);
    return p;
  };
  const blocks = grid(rows * (P / B));
  ctx.rt.dispatch(localDef(t, true), [x.buffer, keys, idxs], params(0, 0), blocks);
  for (let k = 2 * B; k <= P; k *= 2) {
    for (let j = k / 2; j >= B; j /= 2) {
      ctx.rt.dispatch(globalDef(t), [keys, idxs], params(k, j), grid(Math.ceil((rows * P) / 2 / WG)));
    }
    ctx.rt.dispatch(localDef(t, false), [x.buffer, keys, idxs], params(k, 0), blocks);
  }
  const p = params(0, 0);
  ctx.rt.dispatch(extractDef, [idxs, out.buffer], p, grid(Math.ceil(total / WG)));
  ctx.rt.recycle(keys);
  ctx.rt.recycle(idxs);
  return out;
}
