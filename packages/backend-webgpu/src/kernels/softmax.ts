/**
 * Row kernels over the last axis: softmax and logsumexp. One workgroup per row ({@link rowKernel});
 * the row maximum and the sum of `exp(x − max)` are workgroup reductions ({@link rowStatsWgsl};
 * max-shifted, so ±1e4 rows do not overflow).
 */
import type { Shape } from '@reformer/core';
import type { GpuStorage, KernelContext } from '../context.js';
import { defCache, Params, type KernelDef } from '../pipelines.js';
import { grid } from '../runtime.js';
import { sizeOf } from '../shape.js';
import { modeEnables, reduceWorkgroup, rowKernel, rowStatsWgsl, type ReduceMode } from './rows.js';

const cached = defCache();

function rowDef(kind: 'softmax' | 'logSumExp', wg: number, mode: ReduceMode): KernelDef {
  return cached(`${kind}:wg${wg}:${mode}`, () => ({
    enables: modeEnables(mode),
    bindings: [
      { name: 'X', type: 'f32', access: 'read' },
      { name: 'OUT', type: 'f32', access: 'read_write' },
    ],
    source: () =>
      rowKernel(
        wg,
        mode,
        `${rowStatsWgsl(wg, 'X')}
  ${
    kind === 'softmax'
      ? `for (var i = lid; i < D; i = i + ${wg}u) { OUT[base + i] = exp(X[base + i] - rowMax) / rowSum; }`
      : 'if (lid == 0u) { OUT[row] = rowMax + log(rowSum); }'
  }`,
      ),
  }));
}

function runRows(ctx: KernelContext, kind: 'softmax' | 'logSumExp', x: GpuStorage, shape: Shape): GpuStorage {
  const D = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  const rows = D === 0 ? sizeOf(shape.slice(0, -1)) : sizeOf(shape) / D;
  const out = ctx.alloc(kind === 'softmax' ? sizeOf(shape) : rows, 'float32');
  if (rows === 0 || (kind === 'softmax' && D === 0)) return out;
  const p = new Params();
  p.u32(rows);
  p.u32(D);
  ctx.rt.dispatch(rowDef(kind, reduceWorkgroup(D), ctx.reduceMode), [x.buffer, out.buffer], p, grid(rows));
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
