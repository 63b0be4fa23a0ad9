/**
 * Batched matmul `C[b] = op(A[b]) · op(B[b])` with transpose flags and broadcast batch axes.
 *
 * Tiled: a workgroup of 16×16 invocations computes a 64×64 tile of C, each invocation a 4×4 block
 * held in registers (register blocking); the K axis is walked in steps of 16 through two tiles in
 * workgroup memory. Loads are arranged so that consecutive invocations read consecutive addresses
 * for either layout of A and B (the transpose flags choose the load pattern, so they are part of the
 * pipeline key). The batch index is the third grid axis; each operand finds its batch offset through
 * its own broadcast batch strides.
 */
import type { Shape } from '@reformer/core';
import type { GpuStorage, KernelContext } from '../context.js';
import { Params, stridedOffsets, type KernelDef } from '../pipelines.js';
import { broadcastStrides, collapse, sizeOf } from '../shape.js';

const TILE = 64;
const TK = 16;
const defs = new Map<string, KernelDef>();

function matmulDef(ta: boolean, tb: boolean, batchRank: number): KernelDef {
  const key = `matmul:${ta ? 't' : 'n'}${tb ? 't' : 'n'}:b${batchRank}`;
  let def = defs.get(key);
  if (def) return def;
  // Words: 0 M, 1 N, 2 K, 3 batch count, 4.. batch shape, a base + strides, b base + strides.
  const bAt = 4;
  const aOp = { name: 'aOff', base: `${bAt + batchRank}u`, strides: `${bAt + batchRank + 1}u` };
  const bOp = { name: 'bOff', base: `${bAt + 2 * batchRank + 1}u`, strides: `${bAt + 2 * batchRank + 2}u` };
  // A element (m, k): row-major [M, K] unless transposed ([K, M]).
  const aLoad = ta
    ? `let kk = e / ${TILE}u; let mm = e % ${TILE}u; let gm = m0 + mm; let gk = k0 + kk;
       AS[kk][mm] = select(0.0, A[aOff + gk * M + gm], gm < M && gk < K);`
    : `let mm = e / ${TK}u; let kk = e % ${TK}u; let gm = m0 + mm; let gk = k0 + kk;
       AS[kk][mm] = select(0.0, A[aOff + gm * K + gk], gm < M && gk < K);`;
  const bLoad = tb
    ? `let nn = e / ${TK}u; let kk = e % ${TK}u; let gn = n0 + nn; let gk = k0 + kk;
       BS[kk][nn] = select(0.0, B[bOff + gn * K + gk], gn < N && gk < K);`
    : `let kk = e / ${TILE}u; let nn = e % ${TILE}u; let gn = n0 + nn; let gk = k0 + kk;
       BS[kk][nn] = select(0.0, B[bOff + gk * N + gn], gn < N && gk < K);`;
  def = {
    key,
    bindings: [
      { name: 'A', type: 'f32', access: 'read' },
      { name: 'B', type: 'f32', access: 'read' },
      { name: 'C', type: 'f32', access: 'read_write' },
    ],
    source: () => `
var<workgroup> AS: array<array<f32, ${TILE}>, ${TK}>;
var<workgroup> BS: array<array<f32, ${TILE}>, ${TK}>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let M = pu(0u); let N = pu(1u); let K = pu(2u);
  let batch = wid.z;
  ${stridedOffsets(batchRank, `${bAt}u`, [aOp, bOp], 'batch')}
  let m0 = wid.y * ${TILE}u;
  let n0 = wid.x * ${TILE}u;
  let tx = lid3.x; let ty = lid3.y;
  var acc: array<array<f32, 4>, 4>;
  for (var k0: u32 = 0u; k0 < K; k0 = k0 + ${TK}u) {
    for (var t: u32 = 0u; t < 4u; t = t + 1u) {
      let e = lid + t * 256u;
      { ${aLoad} }
      { ${bLoad} }
    }
    workgroupBarrier();
    for (var kk: u32 = 0u; kk < ${TK}u; kk = kk + 1u) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var i: u32 = 0u; i < 4u; i = i + 1u) { a[i] = AS[kk][ty + 16u * i]; b[i] = BS[kk][tx + 16u * i]; }
      for (var i: u32 = 0u; i < 4u; i = i + 1u) {
        for (var j: u32 = 0u; j < 4u; j = j + 1u) { acc[i][j] = acc[i][j] + a[i] * b[j]; }
      }
    }
    workgroupBarrier();
  }
  let cOff = batch * M * N;
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
  const p = new Params();
  p.u32(M);
  p.u32(N);
  p.u32(K);
  p.u32(nBatch);
  p.list(c.shape);
  p.u32(0);
  p.list(c.strides[0]!);
  p.u32(0);
  p.list(c.strides[1]!);
  const maxZ = 65535;
  if (nBatch > maxZ) throw new Error(`webgpu matmul: ${nBatch} batches exceed ${maxZ}`);
  ctx.rt.dispatch(matmulDef(ta, tb, c.shape.length), [a.storage.buffer, b.storage.buffer, out.buffer], p, [Math.ceil(N / TILE), Math.ceil(M / TILE), nBatch]);
  return out;
}
