/**
 * Cross-entropy over logits `[N, V]` and int32 labels `[N]`, and its backward. The forward runs one
 * workgroup per row (max and Σexp as workgroup reductions, `rows.ts`); the backward one invocation per logit. A label
 * that is neither `ignoreIndex` nor in `[0, V)` is recorded in the error buffer (reported by the next
 * readback) and treated as ignored.
 */
import type { GpuStorage, KernelContext } from '../context.js';
import { defCache, Params, type KernelDef } from '../pipelines.js';
import { checkedOpCode, grid, RECORD_ERROR_WGSL } from '../runtime.js';
import { modeEnables, reduceWorkgroup, rowKernel, rowStatsWgsl, type ReduceMode } from './rows.js';

const cached = defCache();
const WG = 64;

function forwardDef(wg: number, mode: ReduceMode): KernelDef {
  return cached(`crossEntropy:wg${wg}:${mode}`, () => ({
    enables: modeEnables(mode),
    bindings: [
      { name: 'X', type: 'f32', access: 'read' },
      { name: 'LABELS', type: 'i32', access: 'read' },
      { name: 'LOSS', type: 'f32', access: 'read_write' },
      { name: 'LSE', type: 'f32', access: 'read_write' },
      { name: 'ERR', type: 'atomic<u32>', access: 'read_write' },
    ],
    source: () =>
      rowKernel(
        wg,
        mode,
        `let ignoreIndex = pi(2u);
  ${rowStatsWgsl(wg, 'X')}
  if (lid == 0u) {
    let lse = rowMax + log(rowSum);
    LSE[row] = lse;
    let t = LABELS[row];
    var loss = 0.0;
    if (t != ignoreIndex) {
      if (t < 0 || u32(t) >= D) { recordError(${checkedOpCode('crossEntropy')}u, t, row, D); }
      else { loss = lse - X[base + u32(t)]; }
    }
    LOSS[row] = loss;
  }`,
        RECORD_ERROR_WGSL,
      ),
  }));
}

const backwardDef: KernelDef = {
  key: 'crossEntropyBackward',
  bindings: [
    { name: 'X', type: 'f32', access: 'read' },
    { name: 'LABELS', type: 'i32', access: 'read' },
    { name: 'LSE', type: 'f32', access: 'read' },
    { name: 'DLOSS', type: 'f32', access: 'read' },
    { name: 'DX', type: 'f32', access: 'read_write' },
    { name: 'ERR', type: 'atomic<u32>', access: 'read_write' },
  ],
  source: () => `
${RECORD_ERROR_WGSL}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let idx = flatGroup(wid, nwg) * ${WG}u + lid;
  let n = pu(0u);
  let V = pu(1u);
  let ignoreIndex = pi(2u);
  if (idx >= n * V) { return; }
  let row = idx / V;
  let j = idx % V;
  let t = LABELS[row];
  let bad = t != ignoreIndex && (t < 0 || u32(t) >= V);
  if (bad && j == 0u) { recordError(${checkedOpCode('crossEntropyBackward')}u, t, row, V); }
  if (t == ignoreIndex || bad) { DX[idx] = 0.0; return; }
  let p = exp(X[idx] - LSE[row]);
  DX[idx] = DLOSS[row] * select(p, p - 1.0, i32(j) == t);
}`,
};

/** Per-row loss and logsumexp. */
export function crossEntropy(
  ctx: KernelContext,
  logits: GpuStorage,
  labels: GpuStorage,
  N: number,
  V: number,
  ignoreIndex: number,
): { loss: GpuStorage; lse: GpuStorage } {
  const loss = ctx.alloc(N, 'float32');
  const lse = ctx.alloc(N, 'float32');
  if (N > 0) {
    const p = new Params();
    p.u32(N);
    p.u32(V);
    p.i32(ignoreIndex);
    ctx.rt.dispatch(
      forwardDef(reduceWorkgroup(V), ctx.reduceMode),
      [logits.buffer, labels.buffer, loss.buffer, lse.buffer, ctx.rt.errorBuffer],
      p,
      grid(N),
    );
  }
  return { loss, lse };
}

/** `dLogits`. */
export function crossEntropyBackward(
  ctx: KernelContext,
  logits: GpuStorage,
  labels: GpuStorage,
  lse: GpuStorage,
  dLoss: GpuStorage,
  N: number,
  V: number,
  ignoreIndex: number,
): GpuStorage {
  const out = ctx.alloc(N * V, 'float32');
  if (N * V > 0) {
    const p = new Params();
    p.u32(N);
    p.u32(V);
    p.i32(ignoreIndex);
    ctx.rt.dispatch(
      backwardDef,
      [logits.buffer, labels.buffer, lse.buffer, dLoss.buffer, out.buffer, ctx.rt.errorBuffer],
      p,
      grid(Math.ceil((N * V) / WG)),
    );
  }
  return out;
}
