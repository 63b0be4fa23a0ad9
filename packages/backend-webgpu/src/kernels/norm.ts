/**
 * Layer norm over the last axis and its backward. Forward and the dx part of the backward run one
 * workgroup per row (two-pass mean and biased variance; Σg and Σg·x̂ as workgroup reductions, `rows.ts`); dGamma and
 * dBeta run one workgroup per column, reducing over the rows.
 */
import type { Shape } from '@reformer/core';
import type { GpuStorage, KernelContext } from '../context.js';
import { defCache, Params, type KernelDef } from '../pipelines.js';
import { grid } from '../runtime.js';
import { sizeOf } from '../shape.js';
import { entryPoint, modeEnables, reduceWorkgroup, rowKernel, workgroupReducers, type Reducer, type ReduceMode } from './rows.js';

const cached = defCache();
const SUM: readonly Reducer[] = [{ name: 'wgSum', type: 'f32', op: 'sum' }];

function forwardDef(wg: number, mode: ReduceMode): KernelDef {
  return cached(`layerNorm:wg${wg}:${mode}`, () => ({
    enables: modeEnables(mode),
    bindings: [
      { name: 'X', type: 'f32', access: 'read' },
      { name: 'G', type: 'f32', access: 'read' },
      { name: 'BETA', type: 'f32', access: 'read' },
      { name: 'Y', type: 'f32', access: 'read_write' },
      { name: 'MEAN', type: 'f32', access: 'read_write' },
      { name: 'RSTD', type: 'f32', access: 'read_write' },
    ],
    source: () =>
      rowKernel(
        wg,
        mode,
        `let eps = pf(2u);
  var s = 0.0;
  for (var i = lid; i < D; i = i + ${wg}u) { s = s + X[base + i]; }
  let mean = wgSum(s) / f32(D);
  var q = 0.0;
  for (var i = lid; i < D; i = i + ${wg}u) { let c = X[base + i] - mean; q = q + c * c; }
  let rstd = 1.0 / sqrt(wgSum(q) / f32(D) + eps);
  for (var i = lid; i < D; i = i + ${wg}u) { Y[base + i] = (X[base + i] - mean) * rstd * G[i] + BETA[i]; }
  if (lid == 0u) { MEAN[row] = mean; RSTD[row] = rstd; }`,
        '',
        SUM,
      ),
  }));
}

function dxDef(wg: number, mode: ReduceMode): KernelDef {
  return cached(`layerNormDx:wg${wg}:${mode}`, () => ({
    enables: modeEnables(mode),
    bindings: [
      { name: 'DY', type: 'f32', access: 'read' },
      { name: 'X', type: 'f32', access: 'read' },
      { name: 'G', type: 'f32', access: 'read' },
      { name: 'MEAN', type: 'f32', access: 'read' },
      { name: 'RSTD', type: 'f32', access: 'read' },
      { name: 'DX', type: 'f32', access: 'read_write' },
    ],
    source: () =>
      rowKernel(
        wg,
        mode,
        `let mu = MEAN[row];
  let rs = RSTD[row];
  var sg = 0.0;
  var sgx = 0.0;
  for (var i = lid; i < D; i = i + ${wg}u) {
    let g = DY[base + i] * G[i];
    sg = sg + g;
    sgx = sgx + g * (X[base + i] - mu) * rs;
  }
  let meanG = wgSum(sg) / f32(D);
  let meanGX = wgSum(sgx) / f32(D);
  for (var i = lid; i < D; i = i + ${wg}u) {
    let xh = (X[base + i] - mu) * rs;
    DX[base + i] = rs * (DY[base + i] * G[i] - meanG - xh * meanGX);
  }`,
        '',
        SUM,
      ),
  }));
}

function paramGradDef(wg: number, mode: ReduceMode): KernelDef {
  return cached(`layerNormDGamma:wg${wg}:${mode}`, () => ({
    enables: modeEnables(mode),
    bindings: [
      { name: 'DY', type: 'f32', access: 'read' },
      { name: 'X', type: 'f32', access: 'read' },
      { name: 'MEAN', type: 'f32', access: 'read' },
      { name: 'RSTD', type: 'f32', access: 'read' },
      { name: 'DG', type: 'f32', access: 'read_write' },
      { name: 'DB', type: 'f32', access: 'read_write' },
    ],
    source: () => `
${workgroupReducers(wg, mode, SUM)}
${entryPoint(wg, mode)}
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
  let dg = wgSum(sg);
  let db = wgSum(sb);
  if (lid == 0u) { DG[col] = dg; DB[col] = db; }
}`,
  }));
}

function dims(shape: Shape): { D: number; rows: number } {
  const D = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  return { D, rows: D === 0 ? 0 : sizeOf(shape) / D };
}

/** Layer norm forward: y, mean and rstd. */
export function layerNorm(
  ctx: KernelContext,
  x: GpuStorage,
  shape: Shape,
  gamma: GpuStorage,
  beta: GpuStorage,
  eps: number,
): { y: GpuStorage; mean: GpuStorage; rstd: GpuStorage } {
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
    ctx.rt.dispatch(
      forwardDef(reduceWorkgroup(D), ctx.reduceMode),
      [x.buffer, gamma.buffer, beta.buffer, y.buffer, mean.buffer, rstd.buffer],
      p,
      grid(rows),
    );
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
  if (rows > 0)
    ctx.rt.dispatch(
      dxDef(reduceWorkgroup(D), ctx.reduceMode),
      [dy.buffer, x.buffer, gamma.buffer, mean.buffer, rstd.buffer, dx.buffer],
      p,
      grid(rows),
    );
  if (D > 0)
    ctx.rt.dispatch(
      paramGradDef(reduceWorkgroup(rows), ctx.reduceMode),
      [dy.buffer, x.buffer, mean.buffer, rstd.buffer, dGamma.buffer, dBeta.buffer],
      p,
      grid(D),
    );
  return { dx, dGamma, dBeta };
}
