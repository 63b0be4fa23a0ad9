/**
 * Layer norm over the last axis and its backward. Forward and the dx part of the backward run one
 * workgroup per row (two-pass mean and biased variance; Σg and Σg·x̂ as tree reductions); dGamma and
 * dBeta run one workgroup per column, reducing over the rows.
 */
import type { Shape } from '@reformer/core';
import type { GpuStorage, KernelContext } from '../context.js';
import { Params, type KernelDef } from '../pipelines.js';
import { grid } from '../runtime.js';
import { sizeOf } from '../shape.js';
import { foldStep, reduceWorkgroup, treeReduce } from './reduce.js';

const defs = new Map<string, KernelDef>();

function cached(def: KernelDef): KernelDef {
  const hit = defs.get(def.key);
  if (hit) return hit;
  defs.set(def.key, def);
  return def;
}

const sum = foldStep('SH', (a, b) => `${a} + ${b}`);

function forwardDef(wg: number): KernelDef {
  return cached({
    key: `layerNorm:wg${wg}`,
    bindings: [
      { name: 'X', type: 'f32', access: 'read' },
      { name: 'G', type: 'f32', access: 'read' },
      { name: 'BETA', type: 'f32', access: 'read' },
      { name: 'Y', type: 'f32', access: 'read_write' },
      { name: 'MEAN', type: 'f32', access: 'read_write' },
      { name: 'RSTD', type: 'f32', access: 'read_write' },
    ],
    source: () => `
var<workgroup> SH: array<f32, ${wg}>;
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = flatGroup(wid, nwg);
  if (row >= pu(0u)) { return; }
  let D = pu(1u);
  let eps = pf(2u);
  let base = row * D;
  var s = 0.0;
  for (var i = lid; i < D; i = i + ${wg}u) { s = s + X[base + i]; }
  SH[lid] = s;
  ${treeReduce(wg, sum)}
  let mean = SH[0] / f32(D);
  workgroupBarrier();
  var q = 0.0;
  for (var i = lid; i < D; i = i + ${wg}u) { let c = X[base + i] - mean; q = q + c * c; }
  SH[lid] = q;
  ${treeReduce(wg, sum)}
  let rstd = 1.0 / sqrt(SH[0] / f32(D) + eps);
  for (var i = lid; i < D; i = i + ${wg}u) { Y[base + i] = (X[base + i] - mean) * rstd * G[i] + BETA[i]; }
  if (lid == 0u) { MEAN[row] = mean; RSTD[row] = rstd; }
}`,
  });
}

function dxDef(wg: number): KernelDef {
  return cached({
    key: `layerNormDx:wg${wg}`,
    bindings: [
      { name: 'DY', type: 'f32', access: 'read' },
      { name: 'X', type: 'f32', access: 'read' },
      { name: 'G', type: 'f32', access: 'read' },
      { name: 'MEAN', type: 'f32', access: 'read' },
      { name: 'RSTD', type: 'f32', access: 'read' },
      { name: 'DX', type: 'f32', access: 'read_write' },
    ],
    source: () => `
var<workgroup> SH: array<f32, ${wg}>;
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = flatGroup(wid, nwg);
  if (row >= pu(0u)) { return; }
  let D = pu(1u);
  let base = row * D;
  let mu = MEAN[row];
  let rs = RSTD[row];
  var sg = 0.0;
  var sgx = 0.0;
  for (var i = lid; i < D; i = i + ${wg}u) {
    let g = DY[base + i] * G[i];
    sg = sg + g;
    sgx = sgx + g * (X[base + i] - mu) * rs;
  }
  SH[lid] = sg;
  ${treeReduce(wg, sum)}
  let meanG = SH[0] / f32(D);
  workgroupBarrier();
  SH[lid] = sgx;
  ${treeReduce(wg, sum)}
  let meanGX = SH[0] / f32(D);
  for (var i = lid; i < D; i = i + ${wg}u) {
    let xh = (X[base + i] - mu) * rs;
    DX[base + i] = rs * (DY[base + i] * G[i] - meanG - xh * meanGX);
  }
}`,
  });
}

function paramGradDef(wg: number): KernelDef {
  return cached({
    key: `layerNormDGamma:wg${wg}`,
    bindings: [
      { name: 'DY', type: 'f32', access: 'read' },
      { name: 'X', type: 'f32', access: 'read' },
      { name: 'MEAN', type: 'f32', access: 'read' },
      { name: 'RSTD', type: 'f32', access: 'read' },
      { name: 'DG', type: 'f32', access: 'read_write' },
      { name: 'DB', type: 'f32', access: 'read_write' },
    ],
    source: () => `
var<workgroup> SH: array<f32, ${wg}>;
var<workgroup> SB: array<f32, ${wg}>;
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let col = flatGroup(wid, nwg);
  let rows = pu(0u);
  let D = pu(1u);
  if (col >= D) { return; }
  var sg = 0.0;
  var sb = 0.0;
  for (var r = lid; r < rows; r = r + ${wg}u) {
    let dy = DY[r * D + col];
    sg = sg + dy * (X[r * D + col] - MEAN[r]) * RSTD[r];
    sb = sb + dy;
  }
  SH[lid] = sg;
  SB[lid] = sb;
  ${treeReduce(wg, (s) => `SH[lid] = SH[lid] + SH[lid + ${s}u]; SB[lid] = SB[lid] + SB[lid + ${s}u];`)}
  if (lid == 0u) { DG[col] = SH[0]; DB[col] = SB[0]; }
}`,
  });
}

function dims(shape: Shape): { D: number; rows: number } {
  const D = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  return { D, rows: D === 0 ? 0 : sizeOf(shape) / D };
}

/** Layer norm forward: y, mean and rstd. */
export function layerNorm(ctx: KernelContext, x: GpuStorage, shape: Shape, gamma: GpuStorage, beta: GpuStorage, eps: number): { y: GpuStorage; mean: GpuStorage; rstd: GpuStorage } {
  const { D, rows } = dims(shape);
  const y = ctx.alloc(sizeOf(shape), 'float32');
  const nStats = sizeOf(shape.slice(0, -1));
  const mean = ctx.alloc(nStats, 'float32');
  const rstd = ctx.alloc(nStats, 'float32');
  if (rows > 0) {
    const p = new Params();
    p.u32(rows);
    p.u32(D);
    p.f32(eps);
    ctx.rt.dispatch(forwardDef(reduceWorkgroup(D)), [x.buffer, gamma.buffer, beta.buffer, y.buffer, mean.buffer, rstd.buffer], p, grid(rows));
  }
  return { y, mean, rstd };
}

/** Layer norm backward: dx, dGamma, dBeta. */
export function layerNormBackward(
  ctx: KernelContext,
  dy: GpuStorage,
  x: GpuStorage,
  shape: Shape,
  gamma: GpuStorage,
  mean: GpuStorage,
  rstd: GpuStorage,
): { dx: GpuStorage; dGamma: GpuStorage; dBeta: GpuStorage } {
  const { D, rows } = dims(shape);
  const dx = ctx.alloc(sizeOf(shape), 'float32');
  const dGamma = ctx.alloc(D, 'float32');
  const dBeta = ctx.alloc(D, 'float32');
  const p = new Params();
  p.u32(rows);
  p.u32(D);
  if (rows > 0) ctx.rt.dispatch(dxDef(reduceWorkgroup(D)), [dy.buffer, x.buffer, gamma.buffer, mean.buffer, rstd.buffer, dx.buffer], p, grid(rows));
  if (D > 0) ctx.rt.dispatch(paramGradDef(reduceWorkgroup(rows)), [dy.buffer, x.buffer, mean.buffer, rstd.buffer, dGamma.buffer, dBeta.buffer], p, grid(D));
  return { dx, dGamma, dBeta };
}
