/**
 * Batched matmul `C[b] = op(A[b]) · op(B[b])` with transpose flags and broadcast batch axes.
 *
 * Tiled: a workgroup of 16×16 invocations computes a 64×64 tile of C, each invocation a 4×4 block
 * held in registers (register blocking, vec4 accumulators); the K axis is walked in steps of 16
 * through two tiles in workgroup memory. Loads are arranged so that consecutive invocations read
 * consecutive addresses for either layout of A and B, and are vec4 loads when the operand's contiguous
 * axis is a multiple of 4 (the transpose flags and the vec4 choice are part of the pipeline key). The batch index is the third grid axis; each operand finds its batch offset through
 * its own broadcast batch strides. When M or N is below 16, a one-invocation-per-output variant runs
 * instead of the tiles; when there are few tiles and K is long, K is split across workgroups
 * ({@link splitK}) and the partial products are summed.
 *
 * With `matmulPrecision: 'f16'` (devices with `shader-f16`) the tiled kernel's workgroup tiles hold
 * float16: each loaded value is checked (finite, |x| ≤ 65504; else it is recorded in the error buffer
 * and read as 0) and converted; products and sums stay float32.
 */
import type { Shape } from '@reformer/core';
import type { GpuStorage, KernelContext } from '../context.js';
import { Params, stridedOffsets, type KernelDef } from '../pipelines.js';
import { checkedOpCode, grid, RECORD_ERROR_WGSL } from '../runtime.js';
import { sumInto } from './reduce.js';
import { broadcastStrides, collapse, sizeOf } from '../shape.js';

const TILE = 64;
const TK = 16;
const defs = new Map<string, KernelDef>();

/** Element type of the tiled matmul's workgroup tiles. */
export type MatmulPrecision = 'f32' | 'f16';

/**
 * WGSL converting a loaded f32 `v` of operand `which` (0 A, 1 B) to the tile type: unchanged for f32;
 * for f16, checked against float16's range first (NaN by its bits: see `isNan`).
 */
function toTile(precision: MatmulPrecision, which: number): (v: string) => string {
  return precision === 'f32' ? (v) => v : (v) => `toF16(${v}, ${which}u)`;
}

const TO_F16_WGSL = `
${RECORD_ERROR_WGSL}
fn toF16(v: f32, operand: u32) -> f16 {
  if (isNan(v) || abs(v) > 65504.0) {
    recordError(${checkedOpCode('matmulF16')}u, bitcast<i32>(v), operand, 0u);
    return f16(0.0);
  }
  return f16(v);
}`;

/**
 * WGSL that fills the workgroup tile `AS[k][m]` (or `BS[k][n]`) for one operand. `rowsMajor`: the
 * operand is stored with the tile's 64-wide axis outer (A `[M, K]`, B `[N, K]` when transposed); else
 * with k outer. `vec4`: the contiguous axis is a multiple of 4, so each invocation loads one vec4.
 */
function tileLoad(
  tile: 'AS' | 'BS',
  src: string,
  off: string,
  outer: string,
  o0: string,
  kOuter: boolean,
  vec4: boolean,
  conv: (v: string) => string,
): string {
  // kOuter: element (k, x) at src[off + k·X + x] (X = extent of the 64-wide axis); else at src[off + x·K + k].
  if (vec4) {
    return kOuter
      ? `{ let kk = lid / 16u; let xq = (lid % 16u) * 4u; let gk = k0 + kk; let gx = ${o0} + xq;
    var v = vec4<f32>(0.0);
    if (gk < kEnd && gx < ${outer}) { v = ${src}[(${off} + gk * ${outer} + gx) / 4u]; }
    ${tile}[kk][xq] = ${conv('v.x')}; ${tile}[kk][xq + 1u] = ${conv('v.y')}; ${tile}[kk][xq + 2u] = ${conv('v.z')}; ${tile}[kk][xq + 3u] = ${conv('v.w')}; }`
      : `{ let xx = lid / 4u; let kq = (lid % 4u) * 4u; let gx = ${o0} + xx; let gk = k0 + kq;
    var v = vec4<f32>(0.0);
    if (gx < ${outer} && gk < kEnd) { v = ${src}[(${off} + gx * K + gk) / 4u]; }
    ${tile}[kq][xx] = ${conv('v.x')}; ${tile}[kq + 1u][xx] = ${conv('v.y')}; ${tile}[kq + 2u][xx] = ${conv('v.z')}; ${tile}[kq + 3u][xx] = ${conv('v.w')}; }`;
  }
  return kOuter
    ? `for (var t: u32 = 0u; t < 4u; t = t + 1u) {
      let e = lid + t * 256u; let kk = e / ${TILE}u; let xx = e % ${TILE}u; let gx = ${o0} + xx; let gk = k0 + kk;
      var v = 0.0;
      if (gx < ${outer} && gk < kEnd) { v = ${src}[${off} + gk * ${outer} + gx]; }
      ${tile}[kk][xx] = ${conv('v')};
    }`
    : `for (var t: u32 = 0u; t < 4u; t = t + 1u) {
      let e = lid + t * 256u; let xx = e / ${TK}u; let kk = e % ${TK}u; let gx = ${o0} + xx; let gk = k0 + kk;
      var v = 0.0;
      if (gx < ${outer} && gk < kEnd) { v = ${src}[${off} + gx * K + gk]; }
      ${tile}[kk][xx] = ${conv('v')};
    }`;
}

function matmulDef(ta: boolean, tb: boolean, batchRank: number, va: boolean, vb: boolean, precision: MatmulPrecision): KernelDef {
  const key = `matmul:${ta ? 't' : 'n'}${tb ? 't' : 'n'}:b${batchRank}:${va ? 'v4' : 's'}${vb ? 'v4' : 's'}:${precision}`;
  let def = defs.get(key);
  if (def) return def;
  // Words: 0 M, 1 N, 2 K, 3 first grid z of this dispatch, 4 K splits S, 5 K per split, 6.. batch shape,
  // a base + strides, b base + strides. Grid z = batch·S + split.
  const bAt = 6;
  const aOp = { name: 'aOff', base: `${bAt + batchRank}u`, strides: `${bAt + batchRank + 1}u` };
  const bOp = { name: 'bOff', base: `${bAt + 2 * batchRank + 1}u`, strides: `${bAt + 2 * batchRank + 2}u` };
  // A is [M, K] (k inner) unless transposed ([K, M], k outer); B is [K, N] (k outer) unless transposed.
  const aLoad = tileLoad('AS', 'A', 'aOff', 'M', 'm0', ta, va, toTile(precision, 0));
  const bLoad = tileLoad('BS', 'B', 'bOff', 'N', 'n0', !tb, vb, toTile(precision, 1));
  const f16 = precision === 'f16';
  def = {
    key,
    ...(f16 ? { enables: ['f16'] } : {}),
    bindings: [
      { name: 'A', type: va ? 'vec4<f32>' : 'f32', access: 'read' },
      { name: 'B', type: vb ? 'vec4<f32>' : 'f32', access: 'read' },
      { name: 'C', type: 'f32', access: 'read_write' },
      ...(f16 ? [{ name: 'ERR', type: 'atomic<u32>', access: 'read_write' as const }] : []),
    ],
    source: () => `${f16 ? TO_F16_WGSL : ''}
var<workgroup> AS: array<array<${precision}, ${TILE}>, ${TK}>;
var<workgroup> BS: array<array<${precision}, ${TILE}>, ${TK}>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let M = pu(0u); let N = pu(1u); let K = pu(2u);
  let firstZ = pu(3u); let S = pu(4u); let kChunk = pu(5u);
  let z = wid.z + firstZ;
  let batch = z / S;
  let kBegin = (z % S) * kChunk;
  let kEnd = min(K, kBegin + kChunk);
  ${stridedOffsets(batchRank, `${bAt}u`, [aOp, bOp], 'batch')}
  let m0 = wid.y * ${TILE}u;
  let n0 = wid.x * ${TILE}u;
  let tx = lid3.x; let ty = lid3.y;
  // Invocation (tx, ty) owns rows ty + 16i and columns tx + 16j of the tile: a 4×4 register block.
  var acc: array<vec4<f32>, 4>;
  for (var k0: u32 = kBegin; k0 < kEnd; k0 = k0 + ${TK}u) {
    ${aLoad}
    ${bLoad}
    workgroupBarrier();
    for (var kk: u32 = 0u; kk < ${TK}u; kk = kk + 1u) {
      let b = vec4<f32>(vec4<${precision}>(BS[kk][tx], BS[kk][tx + 16u], BS[kk][tx + 32u], BS[kk][tx + 48u]));
      for (var i: u32 = 0u; i < 4u; i = i + 1u) { acc[i] = acc[i] + f32(AS[kk][ty + 16u * i]) * b; }
    }
    workgroupBarrier();
  }
  let cOff = z * M * N;
  for (var i: u32 = 0u; i < 4u; i = i + 1u) {
    let gm = m0 + ty + 16u * i;
    if (gm >= M) { continue; }
    for (var j: u32 = 0u; j < 4u; j = j + 1u) {
      let gn = n0 + tx + 16u * j;
      if (gn < N) { C[cOff + gm * N + gn] = acc[i][j]; }
    }
  }
}`,
  };
  defs.set(key, def);
  return def;
}

/**
 * The small-matrix variant: one invocation per output element, looping over K (a 64×64 tile would be
 * mostly idle when M or N is below 16, e.g. matrix–vector products or many tiny batched matrices).
 */
function smallDef(ta: boolean, tb: boolean, batchRank: number): KernelDef {
  const key = `matmulSmall:${ta ? 't' : 'n'}${tb ? 't' : 'n'}:b${batchRank}`;
  let def = defs.get(key);
  if (def) return def;
  const bAt = 4;
  const aOp = { name: 'aOff', base: `${bAt + batchRank}u`, strides: `${bAt + batchRank + 1}u` };
  const bOp = { name: 'bOff', base: `${bAt + 2 * batchRank + 1}u`, strides: `${bAt + 2 * batchRank + 2}u` };
  def = {
    key,
    bindings: [
      { name: 'A', type: 'f32', access: 'read' },
      { name: 'B', type: 'f32', access: 'read' },
      { name: 'C', type: 'f32', access: 'read_write' },
    ],
    source: () => `
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let M = pu(0u); let N = pu(1u); let K = pu(2u); let nBatch = pu(3u);
  let idx = flatGroup(wid, nwg) * 64u + lid;
  if (idx >= nBatch * M * N) { return; }
  let batch = idx / (M * N);
  let m = (idx / N) % M;
  let n = idx % N;
  ${stridedOffsets(batchRank, `${bAt}u`, [aOp, bOp], 'batch')}
  var acc = 0.0;
  for (var k: u32 = 0u; k < K; k = k + 1u) {
    acc = acc + A[aOff + ${ta ? 'k * M + m' : 'm * K + k'}] * B[bOff + ${tb ? 'n * K + k' : 'k * N + n'}];
  }
  C[idx] = acc;
}`,
  };
  defs.set(key, def);
  return def;
}

/**
 * Split-K: when the output has few tiles (so few workgroups that a GPU would idle) and K is long, K is
 * cut into `splits` ranges of `kChunk` (a multiple of the K step) computed by separate workgroups.
 */
export function splitK(M: number, N: number, K: number, nBatch: number, maxElements: number): { splits: number; kChunk: number } {
  const tiles = Math.ceil(M / TILE) * Math.ceil(N / TILE) * nBatch;
  if (tiles >= 64 || K < 2048) return { splits: 1, kChunk: Math.max(K, 1) };
  let splits = Math.min(Math.ceil(K / 512), Math.ceil(256 / tiles), 64);
  const kChunk = Math.ceil(K / splits / TK) * TK;
  splits = Math.ceil(K / kChunk);
  if (splits <= 1 || nBatch * splits * M * N > maxElements) return { splits: 1, kChunk: Math.max(K, 1) };
  return { splits, kChunk };
}

/** Batched matmul; `outShape` is `[...batch, M, N]`. */
export function matmul(
  ctx: KernelContext,
  a: { storage: GpuStorage; shape: Shape },
  b: { storage: GpuStorage; shape: Shape },
  ta: boolean,
  tb: boolean,
  outShape: Shape,
): GpuStorage {
  const r = outShape.length;
  const M = outShape[r - 2]!;
  const N = outShape[r - 1]!;
  const K = ta ? a.shape[a.shape.length - 2]! : a.shape[a.shape.length - 1]!;
  const out = ctx.alloc(sizeOf(outShape), 'float32');
  if (sizeOf(outShape) === 0) return out;
  const batchShape = outShape.slice(0, -2);
  const nBatch = sizeOf(batchShape);
  // Batch strides in elements of each operand: broadcast strides of its batch axes times its matrix size.
  const aBatch = broadcastStrides(a.shape.slice(0, -2), batchShape).map((s) => s * M * K);
  const bBatch = broadcastStrides(b.shape.slice(0, -2), batchShape).map((s) => s * K * N);
  const c = collapse(batchShape, [aBatch, bBatch]);
  if (M < 16 || N < 16) {
    const p = new Params();
    p.list([M, N, K, nBatch]);
    p.list(c.shape);
    p.u32(0);
    p.list(c.strides[0]!);
    p.u32(0);
    p.list(c.strides[1]!);
    ctx.rt.dispatch(
      smallDef(ta, tb, c.shape.length),
      [a.storage.buffer, b.storage.buffer, out.buffer],
      p,
      grid(Math.ceil((nBatch * M * N) / 64)),
    );
    return out;
  }
  // vec4 loads when the operand's contiguous axis is a multiple of 4 (then so is every batch offset).
  const va = (ta ? M : K) % 4 === 0 && K > 0;
  const vb = (tb ? K : N) % 4 === 0 && K > 0;
  const def = matmulDef(ta, tb, c.shape.length, va, vb, ctx.matmulPrecision);
  const { splits, kChunk } = splitK(M, N, K, nBatch, ctx.maxElements);
  // With split K, each split writes its partial product to [batch, split, M, N]; a reduction over the
  // splits (in a fixed order, so results are deterministic) gives C.
  const partial = splits > 1 ? { buffer: ctx.scratch(nBatch * splits * M * N * 4), size: nBatch * splits * M * N } : out;
  // The grid's z axis is batch·splits + split; more than one dispatch allows runs as several dispatches.
  const maxZ = 65535;
  const zCount = nBatch * splits;
  for (let first = 0; first < zCount; first += maxZ) {
    const p = new Params();
    p.list([M, N, K, first, splits, kChunk]);
    p.list(c.shape);
    p.u32(0);
    p.list(c.strides[0]!);
    p.u32(0);
    p.list(c.strides[1]!);
    const buffers = [a.storage.buffer, b.storage.buffer, partial.buffer];
    if (ctx.matmulPrecision === 'f16') buffers.push(ctx.rt.errorBuffer);
    ctx.rt.dispatch(def, buffers, p, [Math.ceil(N / TILE), Math.ceil(M / TILE), Math.min(maxZ, zCount - first)]);
  }
  if (splits > 1) {
    sumInto(ctx, partial, [nBatch, splits, M * N], out);
    ctx.rt.recycle(partial.buffer);
  }
  return out;
}
