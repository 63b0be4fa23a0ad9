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
 * Dropout (`params.dropout`): the slot pre-pass stores each query slot's row key of core's dropout
 * hash (seed, batch, head, round, position; `attentionDropoutRowKey`), and every (query, key) pair
 * finishes the hash with the key's position (`hashAbsorb`, the same u32 arithmetic), so the factor
 * z = 1/(1 − rate) or 0 is bit-identical to the CPU's and nothing is stored. Forward: `acc += p·z·v`;
 * backward: `dv += p·z·dOut`, `ds = p·(z·dOut·v + shift)`.
 *
 * The pipelines are specialised on (d, dv), which size the register arrays.
 */
import {
  ATTENTION_DROPOUT_SALT,
  MASKED_LOGIT,
  SELF_LOGIT,
  attentionDropoutWords,
  type ChunkedAttentionParams,
  type KernelTensor,
} from '@reformer/core';
import type { GpuStorage, KernelContext } from '../context.js';
import { defCache, ParamSlots, wgslConstants, type KernelDef, type Params } from '../pipelines.js';
import { grid } from '../runtime.js';

const WG = 64;

/** WGSL of core's dropout hash (`fmix32`, `hashAbsorb` in attention-dropout.ts), in u32 arithmetic. */
const DROPOUT_HASH = `
fn fmix32(x: u32) -> u32 {
  var h = x;
  h = h ^ (h >> 16u);
  h = h * 0x85ebca6bu;
  h = h ^ (h >> 13u);
  h = h * 0xc2b2ae35u;
  h = h ^ (h >> 16u);
  return h;
}
fn hashAbsorb(h: u32, x: u32) -> u32 { return fmix32(h + x * 0x9e3779b1u); }`;

/**
 * The parameter block of every attention kernel, one word per field (WGSL: `pu(ATTN_SEQ_LENGTH)` …).
 * `maskLength`/`maskRows`: the key mask's last axis and rows (1 row: shared by the batch); `headDim`,
 * `valueDim`: d and dv; `seedLo` … `keepScale`: core's `attentionDropoutWords` and the dropout's
 * round length (positions per hash round).
 */
const ATTN = new ParamSlots('ATTN', {
  batch: 'u32',
  heads: 'u32',
  seqLength: 'u32',
  chunkLength: 'u32',
  chunksBefore: 'u32',
  chunksAfter: 'u32',
  flags: 'u32',
  scale: 'f32',
  maskLength: 'u32',
  maskRows: 'u32',
  headDim: 'u32',
  valueDim: 'u32',
  seedLo: 'u32',
  seedHi: 'u32',
  dropThreshold: 'u32',
  roundLength: 'u32',
  keepScale: 'f32',
});
/** Bits of `ATTN.flags`: which options and optional inputs a call has. */
const FLAG_BITS = { causal: 1, excludeSelf: 2, positions: 4, keyMask: 8, buckets: 16, dropout: 32 } as const;
const FLAG = wgslConstants('FLAG', FLAG_BITS);
const A = ATTN.name;
const F = FLAG.names;
/** WGSL: the names of the parameter words and flag bits (every attention kernel includes it once). */
const PARAM_NAMES = `${ATTN.wgsl}\n${FLAG.wgsl}`;

// A pre-pass packs what the masks need of every slot into SLOT[bh·N + slot] = (position, bucket,
// key allowed by the padding mask, dropout row key as bits), so the attention kernels bind at most 8 storage buffers (the
// WebGPU default limit) and read one vec4 per key.
const COMMON = `
${PARAM_NAMES}
// 0: a plain logit; 1: replaced by the masked logit; 2: replaced by the self logit.
fn maskKind(q: vec4<i32>, k: vec4<i32>) -> u32 {
  let flags = pu(${A.flags});
  if ((flags & ${F.excludeSelf}) != 0u && k.x == q.x) { return 2u; }
  if ((flags & ${F.causal}) != 0u && k.x > q.x) { return 1u; }
  if (k.z == 0) { return 1u; }
  if ((flags & ${F.buckets}) != 0u && k.y != q.y) { return 1u; }
  return 0u;
}
fn replacedLogit(kind: u32) -> f32 { return select(${MASKED_LOGIT.toFixed(1)}, ${SELF_LOGIT.toFixed(1)}, kind == 2u); }
${DROPOUT_HASH}
// Dropout factor of query q on key k: 1/(1 − rate) or 0 (1 without dropout).
fn dropFactor(q: vec4<i32>, k: vec4<i32>) -> f32 {
  if ((pu(${A.flags}) & ${F.dropout}) == 0u) { return 1.0; }
  return select(0.0, pf(${A.keepScale}), hashAbsorb(bitcast<u32>(q.w), bitcast<u32>(k.x)) >= pu(${A.dropThreshold}));
}
// Slot of window key w of query chunk n.
fn windowSlot(n: u32, w: u32) -> u32 {
  let c = pu(${A.chunkLength});
  let nChunks = pu(${A.seqLength}) / c;
  let o = w / c;
  let m = (n + nChunks * (pu(${A.chunksBefore}) / nChunks + 1u) - pu(${A.chunksBefore}) + o) % nChunks;
  return m * c + (w % c);
}
`;

const SLOT = { name: 'SLOT', type: 'vec4<i32>', access: 'read' as const };

/** Packs (position, bucket, mask bit) per slot. */
const slotDef: KernelDef = {
  key: 'attentionSlots',
  bindings: [
    { name: 'POS', type: 'i32', access: 'read' },
    { name: 'MASK', type: 'i32', access: 'read' },
    { name: 'BKT', type: 'i32', access: 'read' },
    { name: 'OUTSLOT', type: 'vec4<i32>', access: 'read_write' },
  ],
  source: () => `
${PARAM_NAMES}
${DROPOUT_HASH}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = flatGroup(wid, nwg) * ${WG}u + lid;
  let H = pu(${A.heads}); let N = pu(${A.seqLength});
  if (g >= pu(${A.batch}) * H * N) { return; }
  let flags = pu(${A.flags});
  let b = g / (H * N);
  let pos = select(i32(g % N), POS[g], (flags & ${F.positions}) != 0u);
  let bucket = select(0, BKT[g], (flags & ${F.buckets}) != 0u);
  var ok = 1;
  if ((flags & ${F.keyMask}) != 0u) {
    let L = pu(${A.maskLength});
    let row = select(b, 0u, pu(${A.maskRows}) == 1u);
    ok = select(0, 1, MASK[row * L + u32(clamp(pos, 0, i32(L) - 1))] != 0);
  }
  var rowKey = 0u;
  if ((flags & ${F.dropout}) != 0u) {
    // core's attentionDropoutRowKey(seed, batch, head, round, position).
    rowKey = hashAbsorb(fmix32(pu(${A.seedLo}) ^ ${ATTENTION_DROPOUT_SALT}u), pu(${A.seedHi}));
    rowKey = hashAbsorb(rowKey, b);
    rowKey = hashAbsorb(rowKey, (g / N) % H);
    rowKey = hashAbsorb(rowKey, (g % N) / pu(${A.roundLength}));
    rowKey = hashAbsorb(rowKey, bitcast<u32>(pos));
  }
  OUTSLOT[g] = vec4<i32>(pos, bucket, ok, bitcast<i32>(rowKey));
}`,
};

const cached = defCache();

/**
 * How a (batch, head, chunk) is cut into workgroups: `wg` invocations (one query or key slot each;
 * several workgroups per chunk when the chunk is longer than 64), and `tile` window slots staged in
 * workgroup memory at a time.
 */
export interface AttentionTiling {
  wg: number;
  tile: number;
}

/** The tiling for head sizes (d, dv) (caps, multiples of 4) and a chunk length within `sharedBytes`. */
export function attentionTiling(d: number, dv: number, chunkLength: number, sharedBytes: number): AttentionTiling {
  // 16, 32 or 64 (a power of two ≥ the chunk length when it is shorter): few pipeline variants, and
  // the invocations beyond a short chunk idle.
  const wg = Math.min(64, Math.max(16, 2 ** Math.ceil(Math.log2(Math.max(chunkLength, 1)))));
  // Per staged slot: its d (or dv) floats of two operands, its packed slot and its (lse, shift).
  const perSlot = (d + dv) * 4 + 16 + 8;
  const tile = Math.max(1, Math.min(64, Math.floor((sharedBytes - 512) / perSlot)));
  return { wg, tile };
}

/**
 * WGSL: the head sizes `DH`, `DVH` and their vec4 counts `DH4`, `DVH4` (constants when the register
 * arrays fit them exactly, so loops can be unrolled; else read from the parameters).
 */
function headSizes(d: number, dv: number, exact: boolean): string {
  return exact
    ? `let DH = ${d}u; let DVH = ${dv}u; let DH4 = ${d / 4}u; let DVH4 = ${dv / 4}u;`
    : `let DH = pu(${A.headDim}); let DVH = pu(${A.valueDim}); let DH4 = (DH + 3u) / 4u; let DVH4 = (DVH + 3u) / 4u;`;
}

/** WGSL: locate this invocation's slot (`t`, `live`, chunk `n`, head `bh`, global row `g`). */
const LOCATE = (wg: number) => `
  let H = pu(${A.heads}); let N = pu(${A.seqLength}); let c = pu(${A.chunkLength});
  let nChunks = N / c;
  let subs = (c + ${wg}u - 1u) / ${wg}u;
  let gi = flatGroup(wid, nwg);
  if (gi >= pu(${A.batch}) * H * nChunks * subs) { return; }
  let bh = gi / (nChunks * subs);
  let n = (gi / subs) % nChunks;
  let t = (gi % subs) * ${wg}u + lid;
  let live = t < c;
  let slot = n * c + min(t, c - 1u);
  let g = bh * N + slot;
  let scale = pf(${A.scale});`;

/** WGSL expression: the 4 floats of row `row` (width `w`) of `src` from column `col`, zero past `w`. */
function quad(src: string, row: string, col: string, w: string): string {
  const at = (j: number) => `select(0.0, ${src}[${row} * ${w} + min(${col} + ${j}u, ${w} - 1u)], ${col} + ${j}u < ${w})`;
  return `vec4<f32>(${at(0)}, ${at(1)}, ${at(2)}, ${at(3)})`;
}

/** WGSL: `dst[e] = quad(row g)` for the vec4 register array `dst` of `n4` entries. */
function loadRow(dst: string, src: string, w: string, n4: string): string {
  return `for (var e = 0u; e < ${n4}; e = e + 1u) { ${dst}[e] = ${quad(src, 'g', 'e * 4u', w)}; }`;
}

/** WGSL: `dst[row·w + col] = vec[j]` for the valid columns of the vec4 register array `src`. */
function storeRow(dst: string, src: string, w: string, n4: string, factor = ''): string {
  return `for (var e = 0u; e < ${n4}; e = e + 1u) {
    for (var j = 0u; j < 4u; j = j + 1u) { let col = e * 4u + j; if (col < ${w}) { ${dst}[g * ${w} + col] = ${factor}${src}[e][j]; } }
  }`;
}

/**
 * WGSL: stage `cnt` slots into workgroup memory: for each (array, source, width) the rows of the slots
 * `slotOf(i)`, i < cnt — as vec4s of `w4` per row (zero-padded) when `w4` is given, else one value.
 */
function stage(wg: number, rows: { dst: string; src: string; w?: string; w4?: string }[], slotOf: (i: string) => string): string {
  return rows
    .map(({ dst, src, w, w4 }) =>
      w4 === undefined
        ? `for (var e = lid; e < cnt; e = e + ${wg}u) { ${dst}[e] = ${src}[bh * N + ${slotOf('e')}]; }`
        : `for (var e = lid; e < cnt * ${w4}; e = e + ${wg}u) { let r = e / ${w4}; ${dst}[e] = ${quad(src, `(bh * N + ${slotOf('r')})`, `(e % ${w4}) * 4u`, w!)}; }`,
    )
    .join('\n    ');
}

/**
 * The start of a kernel with one query per invocation over its window (the forward and dq): common
 * helpers, the K/V/slot tiles in workgroup memory, the entry point, the query's location, head sizes,
 * window length `W`, slot `qs` and its row `q` in registers.
 */
function queryKernelHead(d: number, dv: number, { wg, tile }: AttentionTiling, exact: boolean): string {
  return `${COMMON}
var<workgroup> KS: array<vec4<f32>, ${(tile * d) / 4}>;
var<workgroup> VS: array<vec4<f32>, ${(tile * dv) / 4}>;
var<workgroup> SS: array<vec4<i32>, ${tile}>;
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${LOCATE(wg)}
  ${headSizes(d, dv, exact)}
  let W = c * (pu(${A.chunksBefore}) + 1u + pu(${A.chunksAfter}));
  let qs = SLOT[g];
  var q: array<vec4<f32>, ${d / 4}>;
  ${loadRow('q', 'Q', 'DH', 'DH4')}`;
}

/**
 * The opening of a query kernel's loop over its window, `tile` keys at a time: stages the tile's key and
 * value rows and slots in workgroup memory (`KS`, `VS`, `SS`; `cnt` keys) and waits for the workgroup.
 * The caller writes the loop body over `kk < cnt`, then `workgroupBarrier(); }`.
 */
function windowTilesLoop(wg: number, tile: number): string {
  return `for (var w0 = 0u; w0 < W; w0 = w0 + ${tile}u) {
    let cnt = min(${tile}u, W - w0);
    ${stage(
      wg,
      [
        { dst: 'KS', src: 'K', w: 'DH', w4: 'DH4' },
        { dst: 'VS', src: 'V', w: 'DVH', w4: 'DVH4' },
        { dst: 'SS', src: 'SLOT' },
      ],
      (i) => `windowSlot(n, w0 + ${i})`,
    )}
    workgroupBarrier();`;
}

function forwardDef(d: number, dv: number, { wg, tile }: AttentionTiling, exact: boolean): KernelDef {
  return cached(`attention:d${d}:dv${dv}:wg${wg}:t${tile}:${exact ? 'exact' : 'capped'}`, () => ({
    bindings: [
      { name: 'Q', type: 'f32', access: 'read' },
      { name: 'K', type: 'f32', access: 'read' },
      { name: 'V', type: 'f32', access: 'read' },
      SLOT,
      { name: 'OUT', type: 'f32', access: 'read_write' },
      { name: 'LSE', type: 'f32', access: 'read_write' },
    ],
    source: () => `
${queryKernelHead(d, dv, { wg, tile }, exact)}
  var acc: array<vec4<f32>, ${dv / 4}>;
  var m = (-f32Inf());
  var l = 0.0;
  ${windowTilesLoop(wg, tile)}
    for (var kk = 0u; kk < cnt; kk = kk + 1u) {
      let kind = maskKind(qs, SS[kk]);
      var s: f32;
      if (kind == 0u) {
        var dot4 = vec4<f32>(0.0);
        for (var e = 0u; e < DH4; e = e + 1u) { dot4 = dot4 + q[e] * KS[kk * DH4 + e]; }
        s = scale * (dot4.x + dot4.y + dot4.z + dot4.w);
      } else {
        s = replacedLogit(kind);
      }
      var p: f32;
      if (s > m) {
        let corr = exp(m - s);
        l = l * corr;
        for (var e = 0u; e < DVH4; e = e + 1u) { acc[e] = acc[e] * corr; }
        m = s;
        p = 1.0;
      } else {
        p = exp(s - m);
      }
      l = l + p;
      let pz = p * dropFactor(qs, SS[kk]);
      for (var e = 0u; e < DVH4; e = e + 1u) { acc[e] = acc[e] + pz * VS[kk * DVH4 + e]; }
    }
    workgroupBarrier();
  }
  if (live) {
    // out = Σ exp(s − lse)·v with lse rounded to float32 (as the CPU reference and Hugging Face do):
    // near ±1e9 or 1e5 the rounding of lse is visible, and the backward sees only the rounded value.
    let lse = m + log(l);
    let factor = exp(m - lse);
    ${storeRow('OUT', 'acc', 'DVH', 'DVH4', 'factor * ')}
    LSE[g] = lse;
  }
}`,
  }));
}

function shiftDef(dv: number, exact: boolean): KernelDef {
  return cached(`attentionShift:dv${dv}:${exact ? 'exact' : 'capped'}`, () => ({
    bindings: [
      { name: 'OUT', type: 'f32', access: 'read' },
      { name: 'DOUT', type: 'f32', access: 'read' },
      { name: 'DLSE', type: 'f32', access: 'read' },
      { name: 'LSEIN', type: 'f32', access: 'read' },
      { name: 'STATS', type: 'vec2<f32>', access: 'read_write' },
    ],
    source: () => `
${PARAM_NAMES}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = flatGroup(wid, nwg) * ${WG}u + lid;
  if (g >= pu(${A.batch}) * pu(${A.heads}) * pu(${A.seqLength})) { return; }
  let DVH = ${exact ? `${dv}u` : `pu(${A.valueDim})`};
  var dot = 0.0;
  for (var e = 0u; e < DVH; e = e + 1u) { dot = dot + DOUT[g * DVH + e] * OUT[g * DVH + e]; }
  STATS[g] = vec2<f32>(LSEIN[g], DLSE[g] - dot);
}`,
  }));
}

/** Per query: (lse, shift = dLse − dOut·out). */
const BACKWARD_INPUTS = [
  { name: 'Q', type: 'f32', access: 'read' as const },
  { name: 'K', type: 'f32', access: 'read' as const },
  { name: 'V', type: 'f32', access: 'read' as const },
  { name: 'DOUT', type: 'f32', access: 'read' as const },
  { name: 'STATS', type: 'vec2<f32>', access: 'read' as const },
  SLOT,
];

function dqDef(d: number, dv: number, { wg, tile }: AttentionTiling, exact: boolean): KernelDef {
  return cached(`attentionDq:d${d}:dv${dv}:wg${wg}:t${tile}:${exact ? 'exact' : 'capped'}`, () => ({
    bindings: [...BACKWARD_INPUTS, { name: 'DQ', type: 'f32', access: 'read_write' }],
    source: () => `
${queryKernelHead(d, dv, { wg, tile }, exact)}
  var go: array<vec4<f32>, ${dv / 4}>;
  ${loadRow('go', 'DOUT', 'DVH', 'DVH4')}
  let st = STATS[g];
  var dq: array<vec4<f32>, ${d / 4}>;
  ${windowTilesLoop(wg, tile)}
    for (var kk = 0u; kk < cnt; kk = kk + 1u) {
      let sk = SS[kk];
      if (maskKind(qs, sk) != 0u) { continue; }
      var dot4 = vec4<f32>(0.0);
      for (var e = 0u; e < DH4; e = e + 1u) { dot4 = dot4 + q[e] * KS[kk * DH4 + e]; }
      let p = exp(scale * (dot4.x + dot4.y + dot4.z + dot4.w) - st.x);
      var dp4 = vec4<f32>(0.0);
      for (var e = 0u; e < DVH4; e = e + 1u) { dp4 = dp4 + go[e] * VS[kk * DVH4 + e]; }
      let ds = p * (dropFactor(qs, sk) * (dp4.x + dp4.y + dp4.z + dp4.w) + st.y);
      for (var e = 0u; e < DH4; e = e + 1u) { dq[e] = dq[e] + ds * KS[kk * DH4 + e]; }
    }
    workgroupBarrier();
  }
  if (live) {
    ${storeRow('DQ', 'dq', 'DH', 'DH4', 'scale * ')}
  }
}`,
  }));
}

function dkvDef(d: number, dv: number, { wg, tile }: AttentionTiling, exact: boolean): KernelDef {
  return cached(`attentionDkv:d${d}:dv${dv}:wg${wg}:t${tile}:${exact ? 'exact' : 'capped'}`, () => ({
    bindings: [...BACKWARD_INPUTS, { name: 'DK', type: 'f32', access: 'read_write' }, { name: 'DV', type: 'f32', access: 'read_write' }],
    source: () => `
${COMMON}
var<workgroup> QS: array<vec4<f32>, ${(tile * d) / 4}>;
var<workgroup> GS: array<vec4<f32>, ${(tile * dv) / 4}>;
var<workgroup> SS: array<vec4<i32>, ${tile}>;
var<workgroup> TS: array<vec2<f32>, ${tile}>;
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${LOCATE(wg)}
  ${headSizes(d, dv, exact)}
  // This invocation owns key slot of chunk n; it visits every query chunk whose window holds
  // chunk n (at window offset o: query chunk n + before − o, mod nChunks; a repeat counts again).
  let before = pu(${A.chunksBefore});
  let nWin = before + 1u + pu(${A.chunksAfter});
  let kslot = SLOT[g];
  var kr: array<vec4<f32>, ${d / 4}>;
  ${loadRow('kr', 'K', 'DH', 'DH4')}
  var vr: array<vec4<f32>, ${dv / 4}>;
  ${loadRow('vr', 'V', 'DVH', 'DVH4')}
  var dk: array<vec4<f32>, ${d / 4}>;
  var dvacc: array<vec4<f32>, ${dv / 4}>;
  for (var o = 0u; o < nWin; o = o + 1u) {
    let qn = (n + before + nChunks * (nWin / nChunks + 1u) - o) % nChunks;
    for (var t0 = 0u; t0 < c; t0 = t0 + ${tile}u) {
      let cnt = min(${tile}u, c - t0);
      ${stage(
        wg,
        [
          { dst: 'QS', src: 'Q', w: 'DH', w4: 'DH4' },
          { dst: 'GS', src: 'DOUT', w: 'DVH', w4: 'DVH4' },
          { dst: 'SS', src: 'SLOT' },
          { dst: 'TS', src: 'STATS' },
        ],
        (i) => `qn * c + t0 + ${i}`,
      )}
      workgroupBarrier();
      for (var qq = 0u; qq < cnt; qq = qq + 1u) {
        let kind = maskKind(SS[qq], kslot);
        var s: f32;
        if (kind == 0u) {
          var dot4 = vec4<f32>(0.0);
          for (var e = 0u; e < DH4; e = e + 1u) { dot4 = dot4 + QS[qq * DH4 + e] * kr[e]; }
          s = scale * (dot4.x + dot4.y + dot4.z + dot4.w);
        } else {
          s = replacedLogit(kind);
        }
        let st = TS[qq];
        let p = exp(s - st.x);
        let z = dropFactor(SS[qq], kslot);
        let pz = p * z;
        var dp4 = vec4<f32>(0.0);
        for (var e = 0u; e < DVH4; e = e + 1u) {
          let go = GS[qq * DVH4 + e];
          dvacc[e] = dvacc[e] + pz * go;
          dp4 = dp4 + go * vr[e];
        }
        if (kind == 0u) {
          let ds = p * (z * (dp4.x + dp4.y + dp4.z + dp4.w) + st.y);
          for (var e = 0u; e < DH4; e = e + 1u) { dk[e] = dk[e] + ds * QS[qq * DH4 + e]; }
        }
      }
      workgroupBarrier();
    }
  }
  if (live) {
    ${storeRow('DK', 'dk', 'DH', 'DH4', 'scale * ')}
    ${storeRow('DV', 'dvacc', 'DVH', 'DVH4')}
  }
}`,
  }));
}

/** Shapes and the parameter block shared by the attention kernels. */
function attentionParams(q: KernelTensor<GpuStorage>, v: KernelTensor<GpuStorage>, prm: ChunkedAttentionParams<GpuStorage>) {
  const [B, H, N, d] = q.shape as [number, number, number, number];
  const dv = v.shape[3]!;
  const drop = prm.dropout !== undefined && prm.dropout.rate > 0 ? prm.dropout : undefined;
  const bit = (on: unknown, b: number) => (on ? b : 0);
  const flags =
    bit(prm.causal, FLAG_BITS.causal) |
    bit(prm.excludeSelf, FLAG_BITS.excludeSelf) |
    bit(prm.positions, FLAG_BITS.positions) |
    bit(prm.keyMask, FLAG_BITS.keyMask) |
    bit(prm.buckets, FLAG_BITS.buckets) |
    bit(drop, FLAG_BITS.dropout);
  const mask = prm.keyMask;
  const words = drop ? attentionDropoutWords(drop.rate, drop.seed) : { seedLo: 0, seedHi: 0, threshold: 0, keepScale: 1 };
  const p: Params = ATTN.pack({
    batch: B,
    heads: H,
    seqLength: N,
    chunkLength: prm.chunkLength,
    chunksBefore: prm.chunksBefore,
    chunksAfter: prm.chunksAfter,
    flags,
    scale: prm.scale,
    maskLength: mask ? mask.shape[mask.shape.length - 1]! : 1,
    maskRows: mask ? (mask.shape.length > 1 ? mask.shape[0]! : 1) : 1,
    headDim: d,
    valueDim: dv,
    seedLo: words.seedLo,
    seedHi: words.seedHi,
    dropThreshold: words.threshold,
    roundLength: drop?.roundLength ?? N,
    keepScale: words.keepScale,
  });
  return { B, H, N, d, dv, p, rows: B * H * N, chunkLength: prm.chunkLength };
}

/**
 * Register and tile arrays are sized for a power of two ≥ the head size (at least 16), and the loops
 * run to the actual size from the parameters: one pipeline serves every head size up to the cap.
 */
function registerCap(n: number): number {
  return Math.max(16, 2 ** Math.ceil(Math.log2(Math.max(n, 1))));
}

/** Tiling and grid of the tiled attention kernels for one call. */
function layoutOf(
  ctx: KernelContext,
  d: number,
  dv: number,
  B: number,
  H: number,
  N: number,
  c: number,
): { tiling: AttentionTiling; groups: [number, number, number] } {
  const tiling = attentionTiling(d, dv, c, Math.min(ctx.rt.device.limits.maxComputeWorkgroupStorageSize, 32768));
  const subs = Math.ceil(c / tiling.wg);
  return { tiling, groups: grid(B * H * (N / c) * subs) };
}

/** Records the slot pre-pass; returns the scratch buffer of packed slots (recycle after use). */
function slots(ctx: KernelContext, prm: ChunkedAttentionParams<GpuStorage>, p: Params, rows: number): GPUBuffer {
  const buf = ctx.scratch(rows * 16);
  const side = [prm.positions, prm.keyMask, prm.buckets].map((t) => t?.storage.buffer ?? ctx.dummy);
  ctx.rt.dispatch(slotDef, [...side, buf], p, grid(Math.ceil(rows / WG)));
  return buf;
}

/** Forward: out `[B, H, N, dv]` and lse `[B, H, N]`. */
export function chunkedAttention(
  ctx: KernelContext,
  q: KernelTensor<GpuStorage>,
  k: KernelTensor<GpuStorage>,
  v: KernelTensor<GpuStorage>,
  prm: ChunkedAttentionParams<GpuStorage>,
): { out: GpuStorage; lse: GpuStorage } {
  const { B, H, N, d, dv, p, rows, chunkLength } = attentionParams(q, v, prm);
  const out = ctx.alloc(rows * dv, 'float32');
  const lse = ctx.alloc(rows, 'float32');
  if (rows > 0) {
    const D = registerCap(d);
    const DV = registerCap(dv);
    const exact = D === d && DV === dv;
    const { tiling, groups } = layoutOf(ctx, D, DV, B, H, N, chunkLength);
    const slot = slots(ctx, prm, p, rows);
    ctx.rt.dispatch(
      forwardDef(D, DV, tiling, exact),
      [q.storage.buffer, k.storage.buffer, v.storage.buffer, slot, out.buffer, lse.buffer],
      p,
      groups,
    );
    ctx.rt.recycle(slot);
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
  const { B, H, N, d, dv, p, rows, chunkLength } = attentionParams(q, v, prm);
  const dq = ctx.alloc(rows * d, 'float32');
  const dk = ctx.alloc(rows * d, 'float32');
  const dvOut = ctx.alloc(rows * dv, 'float32');
  if (rows === 0) return { dq, dk, dv: dvOut };
  const D = registerCap(d);
  const DV = registerCap(dv);
  const stats = ctx.scratch(rows * 8);
  const groups = grid(Math.ceil(rows / WG));
  const exact = D === d && DV === dv;
  ctx.rt.dispatch(
    shiftDef(DV, exact),
    [out.storage.buffer, dOut.storage.buffer, dLse.storage.buffer, lse.storage.buffer, stats],
    p,
    groups,
  );
  const slot = slots(ctx, prm, p, rows);
  const inputs = [q.storage.buffer, k.storage.buffer, v.storage.buffer, dOut.storage.buffer, stats, slot];
  const tiled = layoutOf(ctx, D, DV, B, H, N, chunkLength);
  ctx.rt.dispatch(dqDef(D, DV, tiled.tiling, exact), [...inputs, dq.buffer], p, tiled.groups);
  ctx.rt.dispatch(dkvDef(D, DV, tiled.tiling, exact), [...inputs, dk.buffer, dvOut.buffer], p, tiled.groups);
  ctx.rt.recycle(stats);
  ctx.rt.recycle(slot);
  return { dq, dk, dv: dvOut };
}
