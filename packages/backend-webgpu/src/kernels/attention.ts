/**
 * Fused chunked attention (core `ChunkedAttentionParams`): forward with an online softmax over the
 * window's keys, and the backward that recomputes the logits from `q`, `k` and the saved `lse`.
 *
 * Forward: one invocation per query slot walks the `chunkLength · (before + 1 + after)` keys of its
 * window (chunk indices mod nChunks, in window order), keeping the running max, Σexp and the
 * weighted sum of values in registers; it writes `lse = max + log Σ` (float32) and
 * `out = acc · exp(max − lse)`, i.e. `Σ exp(s − lse)·v` with the rounded lse. Logits are
 * `scale·q·k`, replaced (not added to) by −1e9 for keys that are not allowed (causal by position,
 * padding mask at the key's position, other bucket) and then by −1e5 for the query's own position when
 * `excludeSelf`. Nothing but one logit at a time exists.
 *
 * Backward, with `p = exp(s − lse)` and `shift = dLse − dOut·out` (a small per-query pre-pass):
 * `ds = p·(dOut·v + shift)` on logits that were not replaced and 0 on those that were;
 * `dq = scale·Σ ds·k` (one invocation per query over its window) and, without atomics, one invocation
 * per key slot enumerates the query chunks whose windows contain it (n = c + before − o mod nChunks for
 * every window offset o, so a chunk that occurs twice in a window counts twice) and accumulates
 * `dv += p·dOut` and `dk += scale·ds·q`.
 *
 * The pipelines are specialised on (d, dv), which size the register arrays.
 */
import { MASKED_LOGIT, SELF_LOGIT, type ChunkedAttentionParams, type KernelTensor } from '@reformer/core';
import type { GpuStorage, KernelContext } from '../context.js';
import { Params, type KernelDef } from '../pipelines.js';
import { grid } from '../runtime.js';

const WG = 64;

// Params: 0 B, 1 H, 2 N, 3 c, 4 before, 5 after, 6 flags (1 causal, 2 excludeSelf, 4 positions,
// 8 keyMask, 16 buckets), 7 scale (f32), 8 maskLength, 9 maskRows.
const COMMON = `
fn slotPos(bh: u32, slot: u32) -> i32 {
  if ((pu(6u) & 4u) != 0u) { return POS[bh * pu(2u) + slot]; }
  return i32(slot);
}
fn slotBucket(bh: u32, slot: u32) -> i32 {
  if ((pu(6u) & 16u) != 0u) { return BKT[bh * pu(2u) + slot]; }
  return 0;
}
fn keyAllowed(b: u32, pos: i32) -> bool {
  if ((pu(6u) & 8u) == 0u) { return true; }
  let L = pu(8u);
  let row = select(b, 0u, pu(9u) == 1u);
  let p = u32(clamp(pos, 0, i32(L) - 1));
  return MASK[row * L + p] != 0;
}
// 0: a plain logit; 1: replaced by the masked logit; 2: replaced by the self logit.
fn maskKind(b: u32, qPos: i32, qBucket: i32, kPos: i32, kBucket: i32) -> u32 {
  let flags = pu(6u);
  if ((flags & 2u) != 0u && kPos == qPos) { return 2u; }
  if ((flags & 1u) != 0u && kPos > qPos) { return 1u; }
  if (!keyAllowed(b, kPos)) { return 1u; }
  if ((flags & 16u) != 0u && kBucket != qBucket) { return 1u; }
  return 0u;
}
fn replacedLogit(kind: u32) -> f32 { return select(${MASKED_LOGIT.toFixed(1)}, ${SELF_LOGIT.toFixed(1)}, kind == 2u); }
// Slot of window key w of query chunk n.
fn windowSlot(n: u32, w: u32) -> u32 {
  let c = pu(3u);
  let nChunks = pu(2u) / c;
  let o = w / c;
  let m = (n + nChunks * (pu(4u) / nChunks + 1u) - pu(4u) + o) % nChunks;
  return m * c + (w % c);
}
`;

const SIDE = [
  { name: 'POS', type: 'i32', access: 'read' as const },
  { name: 'MASK', type: 'i32', access: 'read' as const },
  { name: 'BKT', type: 'i32', access: 'read' as const },
];

const defs = new Map<string, KernelDef>();
function cached(def: KernelDef): KernelDef {
  const hit = defs.get(def.key);
  if (hit) return hit;
  defs.set(def.key, def);
  return def;
}

function forwardDef(d: number, dv: number): KernelDef {
  return cached({
    key: `attention:d${d}:dv${dv}`,
    bindings: [
      { name: 'Q', type: 'f32', access: 'read' },
      { name: 'K', type: 'f32', access: 'read' },
      { name: 'V', type: 'f32', access: 'read' },
      ...SIDE,
      { name: 'OUT', type: 'f32', access: 'read_write' },
      { name: 'LSE', type: 'f32', access: 'read_write' },
    ],
    source: () => `
${COMMON}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = flatGroup(wid, nwg) * ${WG}u + lid;
  let H = pu(1u); let N = pu(2u); let c = pu(3u);
  if (g >= pu(0u) * H * N) { return; }
  let bh = g / N; let slot = g % N; let b = bh / H;
  let W = c * (pu(4u) + 1u + pu(5u));
  let scale = pf(7u);
  let qPos = slotPos(bh, slot);
  let qBucket = slotBucket(bh, slot);
  var q: array<f32, ${d}>;
  for (var e = 0u; e < ${d}u; e = e + 1u) { q[e] = Q[g * ${d}u + e]; }
  var acc: array<f32, ${dv}>;
  var m = (-f32Inf());
  var l = 0.0;
  let n = slot / c;
  for (var w = 0u; w < W; w = w + 1u) {
    let ks = windowSlot(n, w);
    let kind = maskKind(b, qPos, qBucket, slotPos(bh, ks), slotBucket(bh, ks));
    var s: f32;
    if (kind == 0u) {
      var dot = 0.0;
      let kb = (bh * N + ks) * ${d}u;
      for (var e = 0u; e < ${d}u; e = e + 1u) { dot = dot + q[e] * K[kb + e]; }
      s = scale * dot;
    } else {
      s = replacedLogit(kind);
    }
    var p: f32;
    if (s > m) {
      let corr = exp(m - s);
      l = l * corr;
      for (var e = 0u; e < ${dv}u; e = e + 1u) { acc[e] = acc[e] * corr; }
      m = s;
      p = 1.0;
    } else {
      p = exp(s - m);
    }
    l = l + p;
    let vb = (bh * N + ks) * ${dv}u;
    for (var e = 0u; e < ${dv}u; e = e + 1u) { acc[e] = acc[e] + p * V[vb + e]; }
  }
  // out = Σ exp(s − lse)·v with lse rounded to float32 (as the CPU reference and Hugging Face do):
  // near ±1e9 or 1e5 the rounding of lse is visible, and the backward sees only the rounded value.
  let lse = m + log(l);
  let factor = exp(m - lse);
  for (var e = 0u; e < ${dv}u; e = e + 1u) { OUT[g * ${dv}u + e] = acc[e] * factor; }
  LSE[g] = lse;
}`,
  });
}

function shiftDef(dv: number): KernelDef {
  return cached({
    key: `attentionShift:dv${dv}`,
    bindings: [
      { name: 'OUT', type: 'f32', access: 'read' },
      { name: 'DOUT', type: 'f32', access: 'read' },
      { name: 'DLSE', type: 'f32', access: 'read' },
      { name: 'SHIFT', type: 'f32', access: 'read_write' },
    ],
    source: () => `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = flatGroup(wid, nwg) * ${WG}u + lid;
  if (g >= pu(0u) * pu(1u) * pu(2u)) { return; }
  var dot = 0.0;
  for (var e = 0u; e < ${dv}u; e = e + 1u) { dot = dot + DOUT[g * ${dv}u + e] * OUT[g * ${dv}u + e]; }
  SHIFT[g] = DLSE[g] - dot;
}`,
  });
}

const BACKWARD_INPUTS = [
  { name: 'Q', type: 'f32', access: 'read' as const },
  { name: 'K', type: 'f32', access: 'read' as const },
  { name: 'V', type: 'f32', access: 'read' as const },
  { name: 'LSEIN', type: 'f32', access: 'read' as const },
  { name: 'DOUT', type: 'f32', access: 'read' as const },
  { name: 'SHIFT', type: 'f32', access: 'read' as const },
  ...SIDE,
];

function dqDef(d: number, dv: number): KernelDef {
  return cached({
    key: `attentionDq:d${d}:dv${dv}`,
    bindings: [...BACKWARD_INPUTS, { name: 'DQ', type: 'f32', access: 'read_write' }],
    source: () => `
${COMMON}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = flatGroup(wid, nwg) * ${WG}u + lid;
  let H = pu(1u); let N = pu(2u); let c = pu(3u);
  if (g >= pu(0u) * H * N) { return; }
  let bh = g / N; let slot = g % N; let b = bh / H;
  let W = c * (pu(4u) + 1u + pu(5u));
  let scale = pf(7u);
  let qPos = slotPos(bh, slot);
  let qBucket = slotBucket(bh, slot);
  var q: array<f32, ${d}>;
  for (var e = 0u; e < ${d}u; e = e + 1u) { q[e] = Q[g * ${d}u + e]; }
  var go: array<f32, ${dv}>;
  for (var e = 0u; e < ${dv}u; e = e + 1u) { go[e] = DOUT[g * ${dv}u + e]; }
  let lse = LSEIN[g];
  let shift = SHIFT[g];
  var dq: array<f32, ${d}>;
  let n = slot / c;
  for (var w = 0u; w < W; w = w + 1u) {
    let ks = windowSlot(n, w);
    let kind = maskKind(b, qPos, qBucket, slotPos(bh, ks), slotBucket(bh, ks));
    if (kind != 0u) { continue; }
    let kb = (bh * N + ks) * ${d}u;
    var dot = 0.0;
    for (var e = 0u; e < ${d}u; e = e + 1u) { dot = dot + q[e] * K[kb + e]; }
    let p = exp(scale * dot - lse);
    let vb = (bh * N + ks) * ${dv}u;
    var dp = 0.0;
    for (var e = 0u; e < ${dv}u; e = e + 1u) { dp = dp + go[e] * V[vb + e]; }
    let ds = p * (dp + shift);
    for (var e = 0u; e < ${d}u; e = e + 1u) { dq[e] = dq[e] + ds * K[kb + e]; }
  }
  for (var e = 0u; e < ${d}u; e = e + 1u) { DQ[g * ${d}u + e] = scale * dq[e]; }
}`,
  });
}

function dkvDef(d: number, dv: number): KernelDef {
  return cached({
    key: `attentionDkv:d${d}:dv${dv}`,
    bindings: [...BACKWARD_INPUTS, { name: 'DK', type: 'f32', access: 'read_write' }, { name: 'DV', type: 'f32', access: 'read_write' }],
    source: () => `
${COMMON}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = flatGroup(wid, nwg) * ${WG}u + lid;
  let H = pu(1u); let N = pu(2u); let c = pu(3u);
  if (g >= pu(0u) * H * N) { return; }
  let bh = g / N; let ks = g % N; let b = bh / H;
  let nChunks = N / c;
  let before = pu(4u);
  let nWin = before + 1u + pu(5u);
  let scale = pf(7u);
  let kPos = slotPos(bh, ks);
  let kBucket = slotBucket(bh, ks);
  var kr: array<f32, ${d}>;
  for (var e = 0u; e < ${d}u; e = e + 1u) { kr[e] = K[g * ${d}u + e]; }
  var vr: array<f32, ${dv}>;
  for (var e = 0u; e < ${dv}u; e = e + 1u) { vr[e] = V[g * ${dv}u + e]; }
  var dk: array<f32, ${d}>;
  var dvacc: array<f32, ${dv}>;
  let kc = ks / c;
  for (var o = 0u; o < nWin; o = o + 1u) {
    // The query chunk whose window holds key chunk kc at offset o.
    let n = (kc + before + nChunks * (nWin / nChunks + 1u) - o) % nChunks;
    for (var t = 0u; t < c; t = t + 1u) {
      let qs = n * c + t;
      let qg = bh * N + qs;
      let kind = maskKind(b, slotPos(bh, qs), slotBucket(bh, qs), kPos, kBucket);
      let qb = qg * ${d}u;
      var s: f32;
      if (kind == 0u) {
        var dot = 0.0;
        for (var e = 0u; e < ${d}u; e = e + 1u) { dot = dot + Q[qb + e] * kr[e]; }
        s = scale * dot;
      } else {
        s = replacedLogit(kind);
      }
      let p = exp(s - LSEIN[qg]);
      let ob = qg * ${dv}u;
      var dp = 0.0;
      for (var e = 0u; e < ${dv}u; e = e + 1u) {
        let go = DOUT[ob + e];
        dvacc[e] = dvacc[e] + p * go;
        dp = dp + go * vr[e];
      }
      if (kind == 0u) {
        let ds = p * (dp + SHIFT[qg]);
        for (var e = 0u; e < ${d}u; e = e + 1u) { dk[e] = dk[e] + ds * Q[qb + e]; }
      }
    }
  }
  for (var e = 0u; e < ${d}u; e = e + 1u) { DK[g * ${d}u + e] = scale * dk[e]; }
  for (var e = 0u; e < ${dv}u; e = e + 1u) { DV[g * ${dv}u + e] = dvacc[e]; }
}`,
  });
}

/** Shapes and the parameter block shared by the attention kernels. */
function attentionParams(q: KernelTensor<GpuStorage>, v: KernelTensor<GpuStorage>, prm: ChunkedAttentionParams<GpuStorage>) {
  const [B, H, N, d] = q.shape as [number, number, number, number];
  const dv = v.shape[3]!;
  const p = new Params();
  p.list([B, H, N, prm.chunkLength, prm.chunksBefore, prm.chunksAfter]);
  p.u32((prm.causal ? 1 : 0) | (prm.excludeSelf ? 2 : 0) | (prm.positions ? 4 : 0) | (prm.keyMask ? 8 : 0) | (prm.buckets ? 16 : 0));
  p.f32(prm.scale);
  const mask = prm.keyMask;
  p.u32(mask ? mask.shape[mask.shape.length - 1]! : 1);
  p.u32(mask ? (mask.shape.length > 1 ? mask.shape[0]! : 1) : 1);
  return { B, H, N, d, dv, p, rows: B * H * N };
}

function side(ctx: KernelContext, prm: ChunkedAttentionParams<GpuStorage>): GPUBuffer[] {
  return [prm.positions, prm.keyMask, prm.buckets].map((t) => t?.storage.buffer ?? ctx.dummy);
}

/** Forward: out `[B, H, N, dv]` and lse `[B, H, N]`. */
export function chunkedAttention(
  ctx: KernelContext,
  q: KernelTensor<GpuStorage>,
  k: KernelTensor<GpuStorage>,
  v: KernelTensor<GpuStorage>,
  prm: ChunkedAttentionParams<GpuStorage>,
): { out: GpuStorage; lse: GpuStorage } {
  const { d, dv, p, rows } = attentionParams(q, v, prm);
  const out = ctx.alloc(rows * dv, 'float32');
  const lse = ctx.alloc(rows, 'float32');
  if (rows > 0) {
    ctx.rt.dispatch(forwardDef(Math.max(d, 1), Math.max(dv, 1)), [q.storage.buffer, k.storage.buffer, v.storage.buffer, ...side(ctx, prm), out.buffer, lse.buffer], p, grid(Math.ceil(rows / WG)));
  }
  return { out, lse };
}

/** Backward: dq, dk `[B, H, N, d]` and dv `[B, H, N, dv]`. */
export function chunkedAttentionBackward(
  ctx: KernelContext,
  q: KernelTensor<GpuStorage>,
  k: KernelTensor<GpuStorage>,
  v: KernelTensor<GpuStorage>,
  out: KernelTensor<GpuStorage>,
  lse: KernelTensor<GpuStorage>,
  dOut: KernelTensor<GpuStorage>,
  dLse: KernelTensor<GpuStorage>,
  prm: ChunkedAttentionParams<GpuStorage>,
): { dq: GpuStorage; dk: GpuStorage; dv: GpuStorage } {
  const { d, dv, p, rows } = attentionParams(q, v, prm);
  const dq = ctx.alloc(rows * d, 'float32');
  const dk = ctx.alloc(rows * d, 'float32');
  const dvOut = ctx.alloc(rows * dv, 'float32');
  if (rows === 0) return { dq, dk, dv: dvOut };
  const D = Math.max(d, 1);
  const DV = Math.max(dv, 1);
  const shift = ctx.scratch(rows * 4);
  const groups = grid(Math.ceil(rows / WG));
  ctx.rt.dispatch(shiftDef(DV), [out.storage.buffer, dOut.storage.buffer, dLse.storage.buffer, shift], p, groups);
  const inputs = [q.storage.buffer, k.storage.buffer, v.storage.buffer, lse.storage.buffer, dOut.storage.buffer, shift, ...side(ctx, prm)];
  ctx.rt.dispatch(dqDef(D, DV), [...inputs, dq.buffer], p, groups);
  ctx.rt.dispatch(dkvDef(D, DV), [...inputs, dk.buffer, dvOut.buffer], p, groups);
  ctx.rt.recycle(shift);
  return { dq, dk, dv: dvOut };
}
