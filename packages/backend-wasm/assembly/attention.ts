// Fused chunked attention, forward (out + lse) and backward (dq, dk, dv), one (batch, head) per call,
// one query chunk × its window of key chunks at a time (the rules of the Backend contract:
// wrap-around neighbour chunks, logits REPLACED by −1e9 where not allowed and by −1e5 on the query's
// own position when excludeSelf, lse rounded to float32 before the probabilities use it).
//
// Per query chunk the window's keys and values are packed into padded scratch panels, and every
// product is a register-tiled GEMM (tile.ts): S = Q·Kᵀ, out = P·V; backward dP = dOut·Vᵀ,
// dQ = dS·K, dK += dSᵀ·Q, dV += Pᵀ·dOut. Softmax rows run on four lanes with a polynomial exp.
import { exp4, hmax, hsum } from './simd';
import { gemmTiles } from './tile';

const SELF_LOGIT: f32 = -1e5;
const MASKED_LOGIT: f32 = -1e9;
/** `winOk` value of a padding column (beyond the window): probability exactly 0. */
const PAD: i32 = 2;

// ---- the plan of one call (set by `plan`) ----
let N: i32 = 0, d: i32 = 0, dv: i32 = 0, c: i32 = 0, before: i32 = 0, nWin: i32 = 0, nChunks: i32 = 0;
let W: i32 = 0, Wp: i32 = 0, cp: i32 = 0, d8: i32 = 0, dv8: i32 = 0;
let causal = false, excludeSelf = false, byPosition = false;
let scale: f32 = 1;
let posPtr: usize = 0, bucketPtr: usize = 0, maskPtr: usize = 0;
// scratch regions
let winSlot: usize = 0, winPos: usize = 0, winOk: usize = 0, winBucket: usize = 0;
/** The window's rows of k and v: `winPos` when they are indexed by position, else `winSlot`. */
let winRow: usize = 0;
let Kt: usize = 0, Kw: usize = 0, Vw: usize = 0, Vt: usize = 0, Qp: usize = 0, dOp: usize = 0;
let S: usize = 0, G: usize = 0, Ot: usize = 0, Kg: usize = 0, Rep: usize = 0, QpB: usize = 0, dOpB: usize = 0;

// @ts-ignore: decorator
@inline function roundUp(x: i32, m: i32): i32 {
  return ((x + m - 1) / m) * m;
}

/** Bytes of `floats` floats as `carve` lays them out (a whole number of 64-byte lines), in doubles. */
function lineBytes(floats: f64): f64 {
  return Math.ceil((floats * 4) / 64) * 64;
}

/**
 * Bytes of scratch one call needs: the forward's regions, and with `backward` the backward's after them
 * (as `plan` carves them). A double, exact past 2^31 (a chunk of 16K keys needs 1 GiB of logits): the
 * host refuses sizes the memory cannot hold before the kernel runs.
 */
export function attentionScratchBytes(Nn: i32, dd: i32, ddv: i32, cc: i32, chunksBefore: i32, chunksAfter: i32, backward: bool): f64 {
  const wp = Math.ceil((<f64>cc * <f64>(chunksBefore + 1 + chunksAfter)) / 8) * 8;
  const c4 = Math.ceil(<f64>cc / 4) * 4;
  const e8 = Math.ceil(<f64>dd / 8) * 8;
  const f8 = Math.ceil(<f64>ddv / 8) * 8;
  const ef = Math.max(e8, f8);
  // winSlot, winPos, winOk, winBucket, Kt, Vw, Qp, S, Ot
  let bytes = 64 + 4 * lineBytes(wp) + lineBytes(<f64>dd * wp) + lineBytes(wp * f8) + lineBytes(c4 * e8) + lineBytes(c4 * wp) + lineBytes(c4 * ef);
  // Kw, Vt, dOp, G, Kg, Rep, QpB, dOpB
  if (backward) bytes += lineBytes(wp * e8) + lineBytes(<f64>ddv * wp) + lineBytes(c4 * f8) + lineBytes(c4 * wp) + lineBytes(wp * ef) + lineBytes(wp) + lineBytes(c4 * e8) + lineBytes(c4 * f8);
  return bytes;
}

function carve(at: usize, floats: i32): usize {
  return at + ((<usize>floats * 4 + 63) & ~<usize>63);
}

function plan(Nn: i32, dd: i32, ddv: i32, cc: i32, chunksBefore: i32, chunksAfter: i32, flags: i32, sc: f32, pos: usize, buckets: usize, mask: usize, scratch: usize): void {
  N = Nn; d = dd; dv = ddv; c = cc; before = chunksBefore;
  nWin = chunksBefore + 1 + chunksAfter;
  nChunks = Nn / cc;
  W = cc * nWin;
  Wp = roundUp(W, 8);
  cp = roundUp(cc, 4);
  d8 = roundUp(dd, 8);
  dv8 = roundUp(ddv, 8);
  causal = (flags & 1) != 0;
  excludeSelf = (flags & 2) != 0;
  byPosition = (flags & 4) != 0;
  scale = sc;
  posPtr = pos; bucketPtr = buckets; maskPtr = mask;
  // the forward's regions first: it is given only their bytes (attentionScratchBytes)
  let at = (scratch + 63) & ~<usize>63;
  winSlot = at; at = carve(at, Wp);
  winPos = at; at = carve(at, Wp);
  winOk = at; at = carve(at, Wp);
  winBucket = at; at = carve(at, Wp);
  winRow = byPosition ? winPos : winSlot;
  Kt = at; at = carve(at, d * Wp);
  Vw = at; at = carve(at, Wp * dv8);
  Qp = at; at = carve(at, cp * d8);
  S = at; at = carve(at, cp * Wp);
  Ot = at; at = carve(at, cp * max<i32>(d8, dv8));
  Kw = at; at = carve(at, Wp * d8);
  Vt = at; at = carve(at, dv * Wp);
  dOp = at; at = carve(at, cp * dv8);
  G = at; at = carve(at, cp * Wp);
  Kg = at; at = carve(at, Wp * max<i32>(d8, dv8));
  Rep = at; at = carve(at, Wp);
  QpB = at; at = carve(at, cp * d8);
  dOpB = at; at = carve(at, cp * dv8);
}

// @ts-ignore: decorator
@inline function position(slot: i32): i32 {
  return posPtr ? load<i32>(posPtr + (<usize>slot << 2)) : slot;
}

// @ts-ignore: decorator
@inline function bucketOf(slot: i32): i32 {
  return bucketPtr ? load<i32>(bucketPtr + (<usize>slot << 2)) : 0;
}

/** Window bookkeeping of query chunk `n`: slot, position, allowed-by-mask flag and bucket per key. */
function loadWindow(n: i32): void {
  let w = 0;
  for (let o = 0; o < nWin; o++) {
    const m = (((n - before + o) % nChunks) + nChunks) % nChunks;
    for (let t = 0; t < c; t++, w++) {
      const slot = m * c + t;
      const p = position(slot);
      const at = <usize>w << 2;
      store<i32>(winSlot + at, slot);
      store<i32>(winPos + at, p);
      store<i32>(winBucket + at, bucketOf(slot));
      store<i32>(winOk + at, maskPtr == 0 || load<i32>(maskPtr + (<usize>p << 2)) != 0 ? 1 : 0);
    }
  }
  for (; w < Wp; w++) {
    const at = <usize>w << 2;
    store<i32>(winSlot + at, 0);
    store<i32>(winPos + at, 0);
    store<i32>(winBucket + at, 0);
    store<i32>(winOk + at, PAD);
  }
}

/** Copies `rows` rows of `cols` floats (row stride `cols`) into a panel of row stride `ld`, zero elsewhere up to `padRows`. */
function packRows(src: usize, slots: usize, useSlots: bool, first: i32, rows: i32, cols: i32, dst: usize, ld: i32, padRows: i32): void {
  for (let r = 0; r < padRows; r++) {
    const out = dst + (<usize>(r * ld) << 2);
    if (r < rows) {
      const slot = useSlots ? load<i32>(slots + (<usize>r << 2)) : first + r;
      const from = src + (<usize>(slot * cols) << 2);
      let e = 0;
      for (; e + 4 <= cols; e += 4) v128.store(out + (<usize>e << 2), v128.load(from + (<usize>e << 2)));
      for (; e < cols; e++) store<f32>(out + (<usize>e << 2), load<f32>(from + (<usize>e << 2)));
      for (; e < ld; e++) store<f32>(out + (<usize>e << 2), 0);
    } else {
      memory.fill(out, 0, <usize>ld << 2);
    }
  }
}

/**
 * The transpose of the window's rows of `src` (`cols` floats each) as the B operand of a tile GEMM:
 * panels of 8 window keys, element (e, w) at `dst + (w/8)·cols·32 + e·32 + (w%8)·4`, zero for w ≥ W.
 * Four keys × four columns at a time are transposed in registers (W is then a multiple of 4 up to Wp,
 * the rest one element at a time).
 */
function packTransposed(src: usize, cols: i32, dst: usize): void {
  const panel = <usize>cols << 5;
  const cols4 = cols & ~3;
  let w = 0;
  for (; w + 4 <= W; w += 4) {
    const at = dst + <usize>(w >> 3) * panel + (<usize>(w & 7) << 2);
    const r0 = rowOf(src, w, cols);
    const r1 = rowOf(src, w + 1, cols);
    const r2 = rowOf(src, w + 2, cols);
    const r3 = rowOf(src, w + 3, cols);
    for (let e = 0; e < cols4; e += 4) {
      const o = <usize>e << 2;
      const a = v128.load(r0 + o);
      const b = v128.load(r1 + o);
      const c = v128.load(r2 + o);
      const d = v128.load(r3 + o);
      const ab01 = i32x4.shuffle(a, b, 0, 4, 1, 5);
      const cd01 = i32x4.shuffle(c, d, 0, 4, 1, 5);
      const ab23 = i32x4.shuffle(a, b, 2, 6, 3, 7);
      const cd23 = i32x4.shuffle(c, d, 2, 6, 3, 7);
      const to = at + (<usize>e << 5);
      v128.store(to, i32x4.shuffle(ab01, cd01, 0, 1, 4, 5));
      v128.store(to, i32x4.shuffle(ab01, cd01, 2, 3, 6, 7), 32);
      v128.store(to, i32x4.shuffle(ab23, cd23, 0, 1, 4, 5), 64);
      v128.store(to, i32x4.shuffle(ab23, cd23, 2, 3, 6, 7), 96);
    }
    for (let e = cols4; e < cols; e++) {
      const o = <usize>e << 2;
      const to = at + (<usize>e << 5);
      store<f32>(to, load<f32>(r0 + o));
      store<f32>(to, load<f32>(r1 + o), 4);
      store<f32>(to, load<f32>(r2 + o), 8);
      store<f32>(to, load<f32>(r3 + o), 12);
    }
  }
  for (; w < Wp; w++) {
    const at = dst + <usize>(w >> 3) * panel + (<usize>(w & 7) << 2);
    if (w < W) {
      const from = rowOf(src, w, cols);
      for (let e = 0; e < cols; e++) store<f32>(at + (<usize>e << 5), load<f32>(from + (<usize>e << 2)));
    } else {
      for (let e = 0; e < cols; e++) store<f32>(at + (<usize>e << 5), 0);
    }
  }
}

/** The address of window key `w`'s row of `src` (`cols` floats per row). */
// @ts-ignore: decorator
@inline function rowOf(src: usize, w: i32, cols: i32): usize {
  return src + (<usize>(load<i32>(winRow + (<usize>w << 2)) * cols) << 2);
}

/**
 * Rows of `src` (`cols` floats each; the window's slots, or `rows` consecutive rows from `first`) as
 * the B operand of a tile GEMM over `padRows` rows: panels of 8 columns, element (r, e) at
 * `dst + (e/8)·padRows·32 + r·32 + (e%8)·4`, zero beyond the rows and columns.
 */
function packPanels(src: usize, useSlots: bool, first: i32, rows: i32, cols: i32, dst: usize, padRows: i32): void {
  const cols8 = roundUp(cols, 8);
  const panel = <usize>padRows << 5;
  for (let r = 0; r < padRows; r++) {
    const base = dst + (<usize>r << 5);
    if (r < rows) {
      const slot = useSlots ? load<i32>(winRow + (<usize>r << 2)) : first + r;
      const from = src + (<usize>(slot * cols) << 2);
      let e = 0;
      for (; e + 8 <= cols; e += 8) {
        const to = base + <usize>(e >> 3) * panel;
        v128.store(to, v128.load(from + (<usize>e << 2)));
        v128.store(to, v128.load(from + (<usize>e << 2), 16), 16);
      }
      for (; e < cols8; e++) {
        store<f32>(base + <usize>(e >> 3) * panel + (<usize>(e & 7) << 2), e < cols ? load<f32>(from + (<usize>e << 2)) : 0);
      }
    } else {
      for (let e = 0; e < cols8; e += 8) {
        const to = base + <usize>(e >> 3) * panel;
        v128.store(to, i32x4.splat(0));
        v128.store(to, i32x4.splat(0), 16);
      }
    }
  }
}

/**
 * Replaces row `t`'s raw dot products in S by the contract's logits (scaled or replaced) and, when
 * `repOut` is not 0, writes there −1 (all bits) where a logit was replaced. Padding columns get −∞.
 * Returns the row maximum.
 */
function logitsRow(row: usize, qPos: i32, qBucket: i32, repOut: usize): f32 {
  const qp = i32x4.splat(qPos);
  const qb = i32x4.splat(qBucket);
  const sc = f32x4.splat(scale);
  const selfV = f32x4.splat(SELF_LOGIT);
  const maskedV = f32x4.splat(MASKED_LOGIT);
  const padV = f32x4.splat(-Infinity);
  const zero = i32x4.splat(0);
  let mx = padV;
  for (let w = 0; w < Wp; w += 4) {
    const at = <usize>w << 2;
    const pos = v128.load(winPos + at);
    const ok = v128.load(winOk + at);
    let bad = i32x4.eq(ok, zero);
    if (causal) bad = v128.or(bad, i32x4.gt_s(pos, qp));
    if (bucketPtr) bad = v128.or(bad, i32x4.ne(v128.load(winBucket + at), qb));
    const self = excludeSelf ? i32x4.eq(pos, qp) : zero;
    const pad = i32x4.eq(ok, i32x4.splat(PAD));
    let s = f32x4.mul(v128.load(row + at), sc);
    s = v128.bitselect(maskedV, s, bad);
    s = v128.bitselect(selfV, s, self);
    s = v128.bitselect(padV, s, pad);
    v128.store(row + at, s);
    if (repOut) v128.store(repOut + at, v128.or(bad, self));
    // pmax is one instruction on x86 (max with NaN rules is several). A NaN logit is skipped here but
    // still makes the row's sum, lse and outputs NaN, as with max.
    mx = f32x4.pmax(mx, s);
  }
  return hmax(mx);
}

/** S = Qp·Ktᵀ-panel for the loaded window of query chunk `n` (Qp, Kt packed by the caller). */
function scores(): void {
  gemmTiles(cp, Wp, d, Qp, <usize>d8 << 2, 4, Kt, <usize>d << 5, 32, S, Wp, false);
}

/**
 * Forward for one (batch, head): q, k `[N, d]`, v `[N, dv]` → out `[N, dv]`, lse `[N]`, query chunks
 * `[n0, n1)` only (each chunk's rows depend on nothing else, so chunk ranges may run on different
 * threads). `pos`, `buckets` (`[N]`, or 0 when absent) and `mask` (the batch's padding-mask row, or 0)
 * are int32 arrays. With flag 4 (by position) q, k, v have one row per position and slot i reads row
 * `pos[i]` (the host has checked every position against their length).
 */
export function attentionForward(
  q: usize, k: usize, v: usize, out: usize, lse: usize,
  Nn: i32, dd: i32, ddv: i32, cc: i32, chunksBefore: i32, chunksAfter: i32, flags: i32, sc: f32,
  pos: usize, buckets: usize, mask: usize, n0: i32, n1: i32, scratch: usize,
): void {
  plan(Nn, dd, ddv, cc, chunksBefore, chunksAfter, flags, sc, pos, buckets, mask, scratch);
  for (let n = n0; n < n1; n++) {
    loadWindow(n);
    packTransposed(k, d, Kt);
    packPanels(v, true, 0, W, dv, Vw, Wp);
    // by position, query slot n·c + t reads row pos[n·c + t]
    packRows(q, posPtr + (<usize>(n * c) << 2), byPosition, n * c, c, d, Qp, d8, cp);
    scores();
    for (let t = 0; t < cp; t++) {
      const row = S + (<usize>(t * Wp) << 2);
      if (t >= c) {
        memory.fill(row, 0, <usize>Wp << 2);
        continue;
      }
      const slot = n * c + t;
      const mx = logitsRow(row, position(slot), bucketOf(slot), 0);
      const mv = f32x4.splat(mx);
      let sum = f32x4.splat(0);
      for (let w = 0; w < Wp; w += 4) {
        const at = row + (<usize>w << 2);
        const e = exp4(f32x4.sub(v128.load(at), mv));
        v128.store(at, e);
        sum = f32x4.add(sum, e);
      }
      const l32 = <f32>(<f64>mx + Math.log(<f64>hsum(sum)));
      store<f32>(lse + (<usize>slot << 2), l32);
      const factor = f32x4.splat(<f32>Math.exp(<f64>mx - <f64>l32));
      for (let w = 0; w < Wp; w += 4) {
        const at = row + (<usize>w << 2);
        v128.store(at, f32x4.mul(v128.load(at), factor));
      }
    }
    gemmTiles(cp, dv8, Wp, S, <usize>Wp << 2, 4, Vw, <usize>Wp << 5, 32, Ot, dv8, false);
    for (let t = 0; t < c; t++) {
      memory.copy(out + (<usize>((n * c + t) * dv) << 2), Ot + (<usize>(t * dv8) << 2), <usize>dv << 2);
    }
  }
}

/** `dst[e] = src[e] · factor` for `cols` floats. */
function scaleRow(src: usize, dst: usize, cols: i32, factor: f32): void {
  const f = f32x4.splat(factor);
  let e = 0;
  for (; e + 4 <= cols; e += 4) v128.store(dst + (<usize>e << 2), f32x4.mul(v128.load(src + (<usize>e << 2)), f));
  for (; e < cols; e++) store<f32>(dst + (<usize>e << 2), load<f32>(src + (<usize>e << 2)) * factor);
}

/** Adds rows w < W of `tile` (row stride ld, `cols` floats used) times `factor` into rows winSlot[w] of `acc` (`cols` per row). */
function scatterRows(tile: usize, ld: i32, cols: i32, acc: usize, factor: f32): void {
  const f = f32x4.splat(factor);
  for (let w = 0; w < W; w++) {
    const from = tile + (<usize>(w * ld) << 2);
    const to = acc + (<usize>(load<i32>(winSlot + (<usize>w << 2)) * cols) << 2);
    let e = 0;
    for (; e + 4 <= cols; e += 4) {
      const at = <usize>e << 2;
      v128.store(to + at, f32x4.add(v128.load(to + at), f32x4.mul(v128.load(from + at), f)));
    }
    for (; e < cols; e++) {
      const at = <usize>e << 2;
      store<f32>(to + at, load<f32>(to + at) + load<f32>(from + at) * factor);
    }
  }
}

/**
 * Backward for one (batch, head), recomputing the logits from q, k and the saved lse:
 * `p = exp(s − lse)`, `ds = p·(dOut·v − dOut·out + dLse)` on logits that were not replaced (0 on
 * replaced ones); dq = scale·Σ ds·k, dk += scale·dsᵀ·q, dv += pᵀ·dOut. dq, dk, dv are written whole.
 */
export function attentionBackward(
  q: usize, k: usize, v: usize, out: usize, lse: usize, dOut: usize, dLse: usize,
  dq: usize, dk: usize, dvOut: usize,
  Nn: i32, dd: i32, ddv: i32, cc: i32, chunksBefore: i32, chunksAfter: i32, flags: i32, sc: f32,
  pos: usize, buckets: usize, mask: usize, scratch: usize,
): void {
  plan(Nn, dd, ddv, cc, chunksBefore, chunksAfter, flags, sc, pos, buckets, mask, scratch);
  memory.fill(dk, 0, <usize>(N * d) << 2);
  memory.fill(dvOut, 0, <usize>(N * dv) << 2);
  for (let n = 0; n < nChunks; n++) {
    backwardChunk(n, q, k, v, out, lse, dOut, dLse, dq);
    // dk += scale · dSᵀ·Q (window rows to their slots)
    gemmTiles(Wp, d8, cp, G, 4, <usize>Wp << 2, QpB, <usize>cp << 5, 32, Kg, d8, false);
    scatterRows(Kg, d8, d, dk, scale);
    // dv += Pᵀ·dOut
    gemmTiles(Wp, dv8, cp, S, 4, <usize>Wp << 2, dOpB, <usize>cp << 5, 32, Kg, dv8, false);
    scatterRows(Kg, dv8, dv, dvOut, 1);
  }
}

/**
 * Query chunk `n` of the backward: recomputes P (left in S) and dS (left in G), writes the chunk's dq
 * rows, and leaves the packed Q and dOut panels for the dK / dV products.
 */
function backwardChunk(n: i32, q: usize, k: usize, v: usize, out: usize, lse: usize, dOut: usize, dLse: usize, dq: usize): void {
  loadWindow(n);
  packTransposed(k, d, Kt);
  packPanels(k, true, 0, W, d, Kw, Wp);
  packTransposed(v, dv, Vt);
  packRows(q, 0, false, n * c, c, d, Qp, d8, cp);
  packPanels(q, false, n * c, c, d, QpB, cp);
  packRows(dOut, 0, false, n * c, c, dv, dOp, dv8, cp);
  packPanels(dOut, false, n * c, c, dv, dOpB, cp);
  scores();
  // G = dP = dOut·Vᵀ
  gemmTiles(cp, Wp, dv, dOp, <usize>dv8 << 2, 4, Vt, <usize>dv << 5, 32, G, Wp, false);
  for (let t = 0; t < cp; t++) {
    const row = S + (<usize>(t * Wp) << 2);
    const grow = G + (<usize>(t * Wp) << 2);
    if (t >= c) {
      memory.fill(row, 0, <usize>Wp << 2);
      memory.fill(grow, 0, <usize>Wp << 2);
      continue;
    }
    const slot = n * c + t;
    const rep = Rep;
    logitsRow(row, position(slot), bucketOf(slot), rep);
    let D: f32 = 0;
    const oRow = out + (<usize>(slot * dv) << 2);
    const gRow = dOut + (<usize>(slot * dv) << 2);
    for (let e = 0; e < dv; e++) D += load<f32>(gRow + (<usize>e << 2)) * load<f32>(oRow + (<usize>e << 2));
    const shift = f32x4.splat(load<f32>(dLse + (<usize>slot << 2)) - D);
    const l = f32x4.splat(load<f32>(lse + (<usize>slot << 2)));
    for (let w = 0; w < Wp; w += 4) {
      const at = <usize>w << 2;
      const p = exp4(f32x4.sub(v128.load(row + at), l));
      v128.store(row + at, p);
      const ds = f32x4.mul(p, f32x4.add(v128.load(grow + at), shift));
      v128.store(grow + at, v128.andnot(ds, v128.load(rep + at)));
    }
  }
  // dq rows of this chunk = scale · dS·K
  gemmTiles(cp, d8, Wp, G, <usize>Wp << 2, 4, Kw, <usize>Wp << 5, 32, Ot, d8, false);
  const f = f32x4.splat(scale);
  for (let t = 0; t < c; t++) {
    const to = dq + (<usize>((n * c + t) * d) << 2);
    const from = Ot + (<usize>(t * d8) << 2);
    let e = 0;
    for (; e + 4 <= d; e += 4) v128.store(to + (<usize>e << 2), f32x4.mul(v128.load(from + (<usize>e << 2)), f));
    for (; e < d; e++) store<f32>(to + (<usize>e << 2), load<f32>(from + (<usize>e << 2)) * scale);
  }
}

/** Stores rows w < W of `tile` (row stride ld, `cols` used) times `factor` densely (`cols` per row) at `dst`. */
function storeRows(tile: usize, ld: i32, cols: i32, dst: usize, factor: f32): void {
  for (let w = 0; w < W; w++) scaleRow(tile + (<usize>(w * ld) << 2), dst + (<usize>(w * cols) << 2), cols, factor);
}

/**
 * Threaded backward, phase 1, query chunks `[n0, n1)` of one (batch, head): writes their dq rows and,
 * instead of adding into dk / dv, stores each chunk's terms (`scale·dSᵀ·Q` and `Pᵀ·dOut`, one row per
 * window key) in `partK` (`[nChunks, W, d]`) and `partV` (`[nChunks, W, dv]`). Phase 2
 * ({@link attentionBackwardReduce}) adds them in the single-threaded kernel's order, so the result is
 * the same bits.
 */
export function attentionBackwardPartials(
  q: usize, k: usize, v: usize, out: usize, lse: usize, dOut: usize, dLse: usize, dq: usize,
  Nn: i32, dd: i32, ddv: i32, cc: i32, chunksBefore: i32, chunksAfter: i32, flags: i32, sc: f32,
  pos: usize, buckets: usize, mask: usize, partK: usize, partV: usize, n0: i32, n1: i32, scratch: usize,
): void {
  plan(Nn, dd, ddv, cc, chunksBefore, chunksAfter, flags, sc, pos, buckets, mask, scratch);
  for (let n = n0; n < n1; n++) {
    backwardChunk(n, q, k, v, out, lse, dOut, dLse, dq);
    gemmTiles(Wp, d8, cp, G, 4, <usize>Wp << 2, QpB, <usize>cp << 5, 32, Kg, d8, false);
    storeRows(Kg, d8, d, partK + (<usize>(n * W * d) << 2), scale);
    gemmTiles(Wp, dv8, cp, S, 4, <usize>Wp << 2, dOpB, <usize>cp << 5, 32, Kg, dv8, false);
    storeRows(Kg, dv8, dv, partV + (<usize>(n * W * dv) << 2), 1);
  }
}

/** Adds `rows` rows of `cols` floats from `src` into `dst` (both dense), as `scatterRows` adds. */
function addRows(src: usize, dst: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const from = src + (<usize>(r * cols) << 2);
    const to = dst + (<usize>(r * cols) << 2);
    let e = 0;
    for (; e + 4 <= cols; e += 4) {
      const at = <usize>e << 2;
      v128.store(to + at, f32x4.add(v128.load(to + at), v128.load(from + at)));
    }
    for (; e < cols; e++) {
      const at = <usize>e << 2;
      store<f32>(to + at, load<f32>(to + at) + load<f32>(from + at));
    }
  }
}

/**
 * Threaded backward, phase 2, key chunks `[m0, m1)`: dk and dv rows of each chunk are zeroed, then the
 * stored terms of every query chunk whose window holds it are added — by query chunk, then window
 * offset, ascending: the order in which the single-threaded kernel adds them.
 */
export function attentionBackwardReduce(
  dk: usize, dvOut: usize, Nn: i32, dd: i32, ddv: i32, cc: i32, chunksBefore: i32, chunksAfter: i32,
  partK: usize, partV: usize, m0: i32, m1: i32,
): void {
  const chunks = Nn / cc;
  const win = chunksBefore + 1 + chunksAfter;
  const w = cc * win;
  for (let m = m0; m < m1; m++) {
    const kRows = dk + (<usize>(m * cc * dd) << 2);
    const vRows = dvOut + (<usize>(m * cc * ddv) << 2);
    memory.fill(kRows, 0, <usize>(cc * dd) << 2);
    memory.fill(vRows, 0, <usize>(cc * ddv) << 2);
    // query chunk n holds key chunk m at window offset o when (n − before + o) ≡ m (mod chunks)
    let last = -1;
    for (;;) {
      // the smallest query chunk above `last` whose window holds m
      let next = chunks;
      for (let o = 0; o < win; o++) {
        const n = (((m + chunksBefore - o) % chunks) + chunks) % chunks;
        if (n > last && n < next) next = n;
      }
      if (next === chunks) break;
      for (let o = 0; o < win; o++) {
        if ((((next - chunksBefore + o) % chunks) + chunks) % chunks !== m) continue;
        addRows(partK + (<usize>((next * w + o * cc) * dd) << 2), kRows, cc, dd);
        addRows(partV + (<usize>((next * w + o * cc) * ddv) << 2), vRows, cc, ddv);
      }
      last = next;
    }
  }
}
