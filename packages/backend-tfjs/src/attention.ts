/**
 * The fused chunked-attention kernel (forward and backward) on tfjs ops, processed in groups of chunks
 * so that one group's logits stay under a byte budget (DESIGN §3: never all windows' logits at once).
 *
 * Two formulations of a group, chosen per tfjs backend:
 *
 * - `batched`: the group's G chunks are a batch: queries `[G, C, d]` against their gathered windows
 *   `[G, W, d]` through one batched `tf.matMul`. Right where batched matmul is a fast kernel (cpu,
 *   webgl, webgpu, tensorflow).
 * - `band` (host-memory backends: wasm, cpu): G consecutive chunks of one (batch, head) row against
 *   the key slots of all their windows (a band of width W around the block diagonal plus some waste).
 *   Only the matrix products run on tfjs, as batch-1 non-transposed 2-D matmuls (tfjs-wasm runs only
 *   those on XNNPACK, ≈ 40 GFLOP/s here; its batched/transposed matmul is a naive loop, ≈ 3 GFLOP/s);
 *   the masks, softmax and `ds` run on the host over the in-band keys only, with the CPU reference's
 *   arithmetic, and so do the data movement (the group's rows, transposed operands, the scatter of
 *   window gradients): tfjs-wasm's Gather and Transpose cost 20–45 ns per element, a typed-array copy
 *   well under 1 ns, and each tfjs call 20–40 µs of dispatch.
 *
 * Masks (batched strategy) are built in float32 arithmetic (tfjs-wasm's integer and boolean broadcasts
 * are slow paths): with `keep`, `bad` and `self` in {0, 1}, `s · keep + repl` REPLACES masked logits by
 * exactly −1e9 / −1e5 and leaves the others bit-identical (for finite logits).
 */
import { MASKED_LOGIT, SELF_LOGIT, type ChunkedAttentionParams } from '@reformer/core';
import type * as tfc from '@tensorflow/tfjs-core';

type TF = typeof tfc;
type TfTensor = tfc.Tensor;

/** How a group of chunks is formulated (see the file comment). */
export type AttentionStrategy = 'band' | 'batched';

/** Tuning of the chunked-attention kernel. */
export interface AttentionConfig {
  /** Upper bound in bytes of one group's logits (the float32 `[rows, keys]` matrix of a group). */
  groupBytes: number;
  strategy: AttentionStrategy;
  /** Most chunks in one band group (the band's waste grows with it: (G + nW − 1) / nW). */
  bandChunks: number;
}

/** Sizes and per-slot metadata of one call, built inside the caller's `tf.tidy`. */
interface Plan {
  BH: number;
  N: number;
  C: number;
  nC: number;
  before: number;
  nW: number;
  W: number;
  causal: boolean;
  excludeSelf: boolean;
  scale: number;
  /** float32 [BH·N] position of every slot (only when a position mask is needed). */
  pos?: TfTensor | undefined;
  /** float32 [BH·N] bucket of every slot. */
  bucket?: TfTensor | undefined;
  /** float32 [BH·N]: 1 where the key at this slot is padding (keyMask 0 at its position). */
  keyBad?: TfTensor | undefined;
}

/** The float views a kernel hands in: q, k `[B, H, N, d]` etc. already reshaped by the caller. */
export interface AttentionInputs {
  B: number;
  H: number;
  N: number;
  d: number;
  dv: number;
  q: TfTensor;
  k: TfTensor;
  v: TfTensor;
  positions?: TfTensor | undefined;
  keyMask?: TfTensor | undefined;
  buckets?: TfTensor | undefined;
}

function plan(tf: TF, p: ChunkedAttentionParams<unknown>, x: AttentionInputs, device: boolean): Plan {
  const { B, H, N } = x;
  const BH = B * H;
  const C = p.chunkLength;
  const nW = p.chunksBefore + p.chunksAfter + 1;
  const pl: Plan = {
    BH,
    N,
    C,
    nC: N / C,
    before: p.chunksBefore,
    nW,
    W: nW * C,
    causal: p.causal,
    excludeSelf: p.excludeSelf,
    scale: p.scale,
  };
  if (!device) return pl; // the band strategy builds its masks on the host
  const needPos = p.causal || p.excludeSelf || x.keyMask !== undefined;
  let posI: TfTensor | undefined;
  if (needPos) {
    posI =
      x.positions !== undefined
        ? tf.reshape(x.positions, [B, H * N])
        : tf.tile(tf.reshape(tf.range(0, N, 1, 'int32'), [1, N]), [B, H]);
    pl.pos = tf.reshape(tf.cast(posI, 'float32'), [BH * N]);
  }
  if (x.keyMask !== undefined && posI !== undefined) {
    const km = x.keyMask;
    const L = km.shape[km.shape.length - 1]!;
    const rowsM = km.shape.length < 2 ? 1 : km.shape[0]!;
    // keyBad[b, slot] = keyMask[b, pos[slot]] == 0, through one flat gather of the mask.
    const maskF = tf.cast(tf.equal(tf.reshape(km, [rowsM * L]), 0), 'float32');
    const rowBase = rowsM === 1 ? tf.zeros([B, 1], 'int32') : tf.mul(tf.reshape(tf.range(0, B, 1, 'int32'), [B, 1]), tf.scalar(L, 'int32'));
    const flat = tf.reshape(tf.add(posI, rowBase), [B * H * N]);
    pl.keyBad = tf.gather(maskF, flat);
  }
  if (x.buckets !== undefined) pl.bucket = tf.reshape(tf.cast(x.buckets, 'float32'), [BH * N]);
  return pl;
}

/** 0/1 float of "a ≠ b" for integer-valued floats: clip(|a − b|, 0, 1). */
function differs(tf: TF, a: TfTensor, b: TfTensor): TfTensor {
  return tf.clipByValue(tf.abs(tf.sub(a, b)), 0, 1);
}

/**
 * The replacement of one block of logits: query metadata `[..., M, 1]`, key metadata `[..., 1, K]`
 * (gathered by `q`/`k`) → `keep` (1 where the logit stays) and `repl` (−1e9 / −1e5 where replaced, 0
 * elsewhere), or undefined when no rule applies.
 */
function masks(
  tf: TF,
  pl: Plan,
  q: (t: TfTensor) => TfTensor,
  k: (t: TfTensor) => TfTensor,
): { keep: TfTensor; repl: TfTensor } | undefined {
  const parts: TfTensor[] = [];
  let notSelf: TfTensor | undefined;
  if (pl.pos !== undefined && (pl.causal || pl.excludeSelf)) {
    const pq = q(pl.pos);
    const pk = k(pl.pos);
    const diff = tf.sub(pk, pq);
    if (pl.causal) parts.push(tf.clipByValue(diff, 0, 1));
    if (pl.excludeSelf) notSelf = tf.clipByValue(tf.abs(diff), 0, 1);
  }
  if (pl.keyBad !== undefined) parts.push(k(pl.keyBad));
  if (pl.bucket !== undefined) parts.push(differs(tf, k(pl.bucket), q(pl.bucket)));
  let bad: TfTensor | undefined;
  if (parts.length > 0) {
    bad = parts[0]!;
    for (let i = 1; i < parts.length; i++) bad = tf.add(bad, parts[i]!);
    if (parts.length > 1) bad = tf.clipByValue(bad, 0, 1);
  }
  if (bad === undefined && notSelf === undefined) return undefined;
  if (notSelf === undefined) return { keep: tf.sub(1, bad!), repl: tf.mul(bad!, MASKED_LOGIT) };
  const self = tf.sub(1, notSelf);
  if (bad === undefined) return { keep: notSelf, repl: tf.mul(self, SELF_LOGIT) };
  const badOnly = tf.mul(bad, notSelf);
  return {
    keep: tf.mul(tf.sub(1, bad), notSelf),
    repl: tf.add(tf.mul(badOnly, MASKED_LOGIT), tf.mul(self, SELF_LOGIT)),
  };
}

/**
 * Logsumexp over the last axis of finite logits (keepDims) and `p = exp(s − lse)` from the float32
 * lse, as the contract defines it (not `e / Σe`: with all logits −1e9 the float32 lse is −1e9 and every
 * p is 1). One exp over the block: `p = exp(s − m) · exp(m − lse)`, the second factor per row.
 */
function softmaxLse(tf: TF, s: TfTensor): { p: TfTensor; lse: TfTensor } {
  const m = tf.max(s, -1, true);
  const e = tf.exp(tf.sub(s, m));
  const lse = tf.add(m, tf.log(tf.sum(e, -1, true)));
  return { p: tf.mul(e, tf.exp(tf.sub(m, lse))), lse };
}

/** Groups `[start, size]` covering `count` items in steps of `g`. */
function groups(count: number, g: number): [number, number][] {
  const out: [number, number][] = [];
  for (let s = 0; s < count; s += g) out.push([s, Math.min(g, count - s)]);
  return out;
}

function int1d(tf: TF, values: number[] | Int32Array): TfTensor {
  return tf.tensor1d(values instanceof Int32Array ? values : Int32Array.from(values), 'int32');
}

// ---------------------------------------------------------------- batched strategy

/** Global chunk ids of the windows of chunks g0 … g0 + G − 1 (over all BH rows), window order kept. */
function windowChunks(pl: Plan, g0: number, G: number): Int32Array {
  const idx = new Int32Array(G * pl.nW);
  for (let i = 0; i < G; i++) {
    const gc = g0 + i;
    const row = Math.floor(gc / pl.nC);
    const n = gc - row * pl.nC;
    for (let o = 0; o < pl.nW; o++) {
      const m = (((n + o - pl.before) % pl.nC) + pl.nC) % pl.nC;
      idx[i * pl.nW + o] = row * pl.nC + m;
    }
  }
  return idx;
}

interface BatchedGroup {
  G: number;
  qg: TfTensor;
  kw: TfTensor;
  vw: TfTensor;
  s: TfTensor;
  keep?: TfTensor | undefined;
  win: TfTensor;
  own: TfTensor;
}

function batchedLogits(tf: TF, pl: Plan, x: AttentionInputs, g0: number, G: number): BatchedGroup {
  const { C, W, nW } = pl;
  const d = x.d;
  const dv = x.dv;
  const own = int1d(
    tf,
    Array.from({ length: G }, (_, i) => g0 + i),
  );
  const win = int1d(tf, windowChunks(pl, g0, G));
  const q3 = tf.reshape(x.q, [pl.BH * pl.nC, C, d]);
  const k3 = tf.reshape(x.k, [pl.BH * pl.nC, C * d]);
  const v3 = tf.reshape(x.v, [pl.BH * pl.nC, C * dv]);
  const qg = tf.gather(q3, own);
  const kw = tf.reshape(tf.gather(k3, win), [G, W, d]);
  const vw = tf.reshape(tf.gather(v3, win), [G, W, dv]);
  const meta = (t: TfTensor) => tf.reshape(t, [pl.BH * pl.nC, C]);
  // One tidy for the masked logits, so the mask arithmetic's temporaries go before the softmax.
  const [s, keep] = tf.tidy(() => {
    let r = tf.matMul(qg, kw, false, true);
    if (pl.scale !== 1) r = tf.mul(r, pl.scale);
    const m = masks(
      tf,
      pl,
      (t) => tf.reshape(tf.gather(meta(t), own), [G, C, 1]),
      (t) => tf.reshape(tf.gather(meta(t), win), [G, 1, nW * C]),
    );
    return m === undefined ? [r] : [tf.add(tf.mul(r, m.keep), m.repl), m.keep];
  });
  return { G, qg, kw, vw, s: s!, keep, win, own };
}

function batchedForward(tf: TF, pl: Plan, x: AttentionInputs, cfg: AttentionConfig): [TfTensor, TfTensor] {
  const total = pl.BH * pl.nC;
  const G = Math.max(1, Math.min(total, Math.floor(cfg.groupBytes / (4 * pl.C * pl.W))));
  const outs: TfTensor[] = [];
  const lses: TfTensor[] = [];
  for (const [g0, g] of groups(total, G)) {
    const [o, l] = tf.tidy(() => {
      const b = batchedLogits(tf, pl, x, g0, g);
      const { p, lse } = softmaxLse(tf, b.s);
      return [tf.matMul(p, b.vw), lse];
    });
    outs.push(o!);
    lses.push(l!);
  }
  return [concat0(tf, outs), concat0(tf, lses)];
}

function batchedBackward(
  tf: TF,
  pl: Plan,
  x: AttentionInputs,
  lse: TfTensor,
  dOut: TfTensor,
  shift: TfTensor,
  cfg: AttentionConfig,
): [TfTensor, TfTensor, TfTensor] {
  const { C, nW } = pl;
  const total = pl.BH * pl.nC;
  const G = Math.max(1, Math.min(total, Math.floor(cfg.groupBytes / (4 * C * pl.W))));
  const lse3 = tf.reshape(lse, [total, C]);
  const shift3 = tf.reshape(shift, [total, C]);
  const dO3 = tf.reshape(dOut, [total, C, x.dv]);
  const dqs: TfTensor[] = [];
  const dks: TfTensor[] = [];
  const dvs: TfTensor[] = [];
  const wins: TfTensor[] = [];
  for (const [g0, g] of groups(total, G)) {
    const r = tf.tidy(() => {
      const b = batchedLogits(tf, pl, x, g0, g);
      const p = tf.exp(tf.sub(b.s, tf.reshape(tf.gather(lse3, b.own), [g, C, 1])));
      const dO = tf.gather(dO3, b.own);
      const dp = tf.matMul(dO, b.vw, false, true);
      let ds = tf.mul(p, tf.add(dp, tf.reshape(tf.gather(shift3, b.own), [g, C, 1])));
      if (b.keep !== undefined) ds = tf.mul(ds, b.keep);
      let dq = tf.matMul(ds, b.kw);
      let dkw = tf.matMul(ds, b.qg, true, false);
      if (pl.scale !== 1) {
        dq = tf.mul(dq, pl.scale);
        dkw = tf.mul(dkw, pl.scale);
      }
      const dvw = tf.matMul(p, dO, true, false);
      return [dq, tf.reshape(dkw, [g * nW, C * x.d]), tf.reshape(dvw, [g * nW, C * x.dv]), tf.reshape(b.win, [g * nW, 1])];
    });
    dqs.push(r[0]!);
    dks.push(r[1]!);
    dvs.push(r[2]!);
    wins.push(r[3]!);
  }
  // Window gradients back to their chunks: one scatter-add (ScatterNd sums duplicates).
  const win = concat0(tf, wins);
  const dk = tf.scatterND(win, concat0(tf, dks), [total, C * x.d]);
  const dv = tf.scatterND(win, concat0(tf, dvs), [total, C * x.dv]);
  return [concat0(tf, dqs), dk, dv];
}

function concat0(tf: TF, ts: TfTensor[]): TfTensor {
  return ts.length === 1 ? ts[0]! : tf.concat(ts, 0);
}

// ---------------------------------------------------------------- band strategy (host-memory tfjs backends)

/** Host copies of one call's inputs (read once with `dataSync`; cpu and wasm keep tensors in host memory). */
interface HostInputs {
  /** Position of every slot (index within its row when no positions are given). */
  pos: Int32Array;
  keyBad?: Uint8Array | undefined;
  bucket?: Int32Array | undefined;
}

function f32(t: TfTensor): Float32Array {
  const d = t.dataSync();
  return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
}

function i32(t: TfTensor): Int32Array {
  const d = t.dataSync();
  return d instanceof Int32Array ? d : Int32Array.from(d as ArrayLike<number>);
}

function hostInputs(pl: Plan, x: AttentionInputs): HostInputs {
  const S = pl.BH * pl.N;
  let pos: Int32Array;
  if (x.positions !== undefined) pos = i32(x.positions);
  else {
    pos = new Int32Array(S);
    for (let i = 0; i < S; i++) pos[i] = i % pl.N;
  }
  const h: HostInputs = { pos };
  if (x.keyMask !== undefined) {
    const km = i32(x.keyMask);
    const L = x.keyMask.shape[x.keyMask.shape.length - 1]!;
    const perB = x.keyMask.shape.length >= 2 && x.keyMask.shape[0]! > 1;
    const bad = new Uint8Array(S);
    for (let i = 0; i < S; i++) {
      const b = Math.floor(i / (x.H * pl.N));
      bad[i] = km[(perB ? b * L : 0) + pos[i]!] === 0 ? 1 : 0;
    }
    h.keyBad = bad;
  }
  if (x.buckets !== undefined) h.bucket = i32(x.buckets);
  return h;
}

/** Band groups: [row (b·H + h), first chunk, chunk count], sized by the budget and `bandChunks`. */
function bandGroups(pl: Plan, cfg: AttentionConfig): [number, number, number][] {
  const { C, nW } = pl;
  let G = Math.max(1, Math.min(cfg.bandChunks, pl.nC));
  while (G > 1 && 4 * G * C * (G + nW - 1) * C > cfg.groupBytes) G--;
  const out: [number, number, number][] = [];
  for (let row = 0; row < pl.BH; row++) for (const [n0, g] of groups(pl.nC, G)) out.push([row, n0, g]);
  return out;
}

/** One band group's slots: query slots (contiguous) and key slots (window order, duplicates kept). */
interface Band {
  q0: number;
  M: number;
  R: number;
  keys: Int32Array;
}

function band(pl: Plan, [row, n0, g]: [number, number, number]): Band {
  const { C, nC, N } = pl;
  const nK = g + pl.nW - 1;
  const keys = new Int32Array(nK * C);
  for (let u = 0; u < nK; u++) {
    const m = (((n0 - pl.before + u) % nC) + nC) % nC;
    for (let t = 0; t < C; t++) keys[u * C + t] = row * N + m * C + t;
  }
  return { q0: row * N + n0 * C, M: g * C, R: nK * C, keys };
}

/** Rows `keys` of a row-major `[*, w]` array → `[keys.length, w]`. */
function rows(src: Float32Array, w: number, keys: Int32Array, out: Float32Array): Float32Array {
  const R = keys.length;
  for (let r = 0; r < R; r++) {
    const o = keys[r]! * w;
    const t = r * w;
    for (let j = 0; j < w; j++) out[t + j] = src[o + j]!;
  }
  return out;
}

/** `src[from … from + n)` copied into `out`. */
function slab(src: Float32Array, from: number, n: number, out: Float32Array): Float32Array {
  out.set(src.subarray(from, from + n));
  return out;
}

/** Rows `q0 … q0 + M − 1` of a row-major `[*, w]` array, transposed → `[w, M]`. */
function rowsT(src: Float32Array, w: number, q0: number, M: number, out: Float32Array): Float32Array {
  for (let r = 0; r < M; r++) {
    const o = (q0 + r) * w;
    for (let j = 0; j < w; j++) out[j * M + r] = src[o + j]!;
  }
  return out;
}

/**
 * Host ↔ tfjs traffic of the band strategy. On tfjs-wasm, `tensor2d` copies its values into the wasm
 * heap, so host scratch arrays are reused across groups (`buf`), and results are copied straight out of
 * the heap (a `dataSync` allocates a fresh array per read, which made allocation and GC a large part
 * of the small-group time). Elsewhere (tfjs-cpu keeps the array it is given) every array is fresh.
 */
class HostIO {
  private readonly pool = new Map<string, Float32Array>();
  private readonly heap: { dataIdMap: { get(id: object): { memoryOffset?: number | null } | undefined }; wasm: { HEAPF32: Float32Array } } | undefined;
  readonly reuse: boolean;

  constructor(private readonly tf: TF) {
    this.reuse = tf.getBackend() === 'wasm';
    const be = tf.backend() as unknown as Partial<NonNullable<HostIO['heap']>>;
    this.heap = this.reuse && typeof be.dataIdMap?.get === 'function' && be.wasm?.HEAPF32 instanceof Float32Array ? (be as NonNullable<HostIO['heap']>) : undefined;
  }

  /**
   * The float32 elements of a live input tensor: on wasm a view of the heap, taken afresh at every use
   * (a heap growth in any later allocation detaches older views; never hand one to `tensor2d`, whose
   * allocation comes before its copy), else one `dataSync` copy per tensor.
   */
  read(t: TfTensor): Float32Array {
    const off = this.heap !== undefined && t.dtype === 'float32' ? this.heap.dataIdMap.get(t.dataId)?.memoryOffset : undefined;
    if (typeof off === 'number') return this.heap!.wasm.HEAPF32.subarray(off >>> 2, (off >>> 2) + t.size);
    let a = this.copies.get(t);
    if (a === undefined) {
      a = f32(t);
      this.copies.set(t, a);
    }
    return a;
  }

  private readonly copies = new Map<TfTensor, Float32Array>();

  /** A float32 scratch array of n elements: reused per `key` on wasm (contents kept), else fresh (zeros). */
  buf(key: string, n: number): Float32Array {
    if (!this.reuse) return new Float32Array(n);
    const k = `${key}:${n}`;
    let a = this.pool.get(k);
    if (a === undefined) {
      a = new Float32Array(n);
      this.pool.set(k, a);
    }
    return a;
  }

  /** `matMul(a [m, k], b [k, n])` (batch 1, no transposes: XNNPACK on wasm) into `out` (m·n), tensors disposed. */
  mm(a: Float32Array, b: Float32Array, m: number, k: number, n: number, out: Float32Array): Float32Array {
    const tf = this.tf;
    const ta = tf.tensor2d(a, [m, k]);
    const tb = tf.tensor2d(b, [k, n]);
    const tc = tf.matMul(ta, tb);
    const off = this.heap?.dataIdMap.get(tc.dataId)?.memoryOffset;
    if (this.heap !== undefined && typeof off === 'number') {
      const heap = this.heap.wasm.HEAPF32; // read after the kernel: the heap may have grown
      out.set(heap.subarray(off >>> 2, (off >>> 2) + m * n));
    } else out.set(f32(tc));
    ta.dispose();
    tb.dispose();
    tc.dispose();
    return out;
  }
}

// exp(x) for the host softmax: x = (64k + j)·ln2/64 + r with |r| ≤ ln2/128 (k·64 + j rounded by the
// 1.5·2⁵² trick), e^r by its degree-4 Taylor polynomial: relative error < 4e-14, far below float32
// resolution, and about 1.6× faster than Math.exp in V8 (the softmax's exps are its largest host cost).
const EXP_T = new Float64Array(64);
for (let j = 0; j < 64; j++) EXP_T[j] = Math.pow(2, j / 64);
const EXP_P2 = new Float64Array(2200);
for (let i = 0; i < 2200; i++) EXP_P2[i] = Math.pow(2, i - 1100);
const EXP_S = 64 / Math.LN2;
const EXP_HI = 6.9314718036912381649e-1 / 64;
const EXP_LO = 1.90821492927058770002e-10 / 64;
const ROUND = 6755399441055744;

function exp(x: number): number {
  if (!(x > -745.2 && x < 709.7)) return x > 0 ? Infinity : x < 0 ? 0 : NaN;
  const kd = x * EXP_S + ROUND - ROUND;
  const r = x - kd * EXP_HI - kd * EXP_LO;
  const k = kd | 0;
  return EXP_P2[(k >> 6) + 1100]! * EXP_T[k & 63]! * (1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24)))));
}

/**
 * The masked logits of one query chunk of a group over its window, in doubles (as the CPU reference:
 * replaced logits are −1e5 for the query's own position under `excludeSelf`, else −1e9 where causal,
 * padding or bucket rules forbid the key), laid out `X[w·C + t]` for window key w and query t of the
 * chunk; `rep` = 1 where replaced; `mx[t]` the row maxima. `sT` is the group's `[R, M]` transposed
 * `q·k`; the chunk's queries are columns c0 … c0 + C − 1 and its window rows c0 … c0 + W − 1, so every
 * inner loop runs along a contiguous row of `sT`.
 */
function maskedBlock(
  pl: Plan,
  h: HostInputs,
  sT: Float32Array,
  M: number,
  keys: Int32Array,
  c0: number,
  q0: number,
  s: BlockScratch,
): void {
  const { W, C, scale, causal, excludeSelf } = pl;
  const { X, rep, mx, pq, bq } = s;
  const pos = h.pos;
  const keyBad = h.keyBad;
  const bucket = h.bucket;
  const rules = causal || excludeSelf || keyBad !== undefined || bucket !== undefined;
  for (let t = 0; t < C; t++) {
    mx[t] = -Infinity;
    pq[t] = pos[q0 + c0 + t]!;
    bq[t] = bucket !== undefined ? bucket[q0 + c0 + t]! : 0;
  }
  for (let w = 0; w < W; w++) {
    const ks = keys[c0 + w]!;
    const so = (c0 + w) * M + c0;
    const xo = w * C;
    if (!rules) {
      for (let t = 0; t < C; t++) {
        const x = scale * sT[so + t]!;
        X[xo + t] = x;
        rep[xo + t] = 0;
        if (x > mx[t]!) mx[t] = x;
      }
      continue;
    }
    const pk = pos[ks]!;
    const kBad = keyBad !== undefined && keyBad[ks] === 1;
    const bk = bucket !== undefined ? bucket[ks]! : 0;
    for (let t = 0; t < C; t++) {
      let x: number;
      let r = 1;
      const p = pq[t]!;
      if (excludeSelf && pk === p) x = SELF_LOGIT;
      else if (kBad || (causal && pk > p) || (bucket !== undefined && bk !== bq[t])) x = MASKED_LOGIT;
      else {
        x = scale * sT[so + t]!;
        r = 0;
      }
      X[xo + t] = x;
      rep[xo + t] = r;
      if (x > mx[t]!) mx[t] = x;
    }
  }
}

/** Per-call scratch of `maskedBlock` and the softmax loops. */
interface BlockScratch {
  X: Float64Array;
  rep: Uint8Array;
  mx: Float64Array;
  sm: Float64Array;
  pq: Int32Array;
  bq: Int32Array;
}

function blockScratch(pl: Plan): BlockScratch {
  const { W, C } = pl;
  return {
    X: new Float64Array(W * C),
    rep: new Uint8Array(W * C),
    mx: new Float64Array(C),
    sm: new Float64Array(C),
    pq: new Int32Array(C),
    bq: new Int32Array(C),
  };
}

/**
 * Forward of the band strategy. Per group: one XNNPACK matmul for the band's transposed logits
 * `k·qᵀ` `[R, M]`, the masked softmax on the host over the W in-band keys of each query only (CPU
 * reference arithmetic: doubles, lse rounded to float32, `p = exp(s − max)·exp(max − lse₃₂)`;
 * out-of-band p stay exactly 0), one matmul `p · v`. Products are oriented so that the right operand
 * (which XNNPACK packs on every call) is the smaller one.
 */
function bandForward(tf: TF, pl: Plan, x: AttentionInputs, cfg: AttentionConfig): [TfTensor, TfTensor] {
  const h = hostInputs(pl, x);
  const { C, W } = pl;
  const { d, dv } = x;
  const S = pl.BH * pl.N;
  const outH = new Float32Array(S * dv);
  const lseH = new Float32Array(S);
  const sc = blockScratch(pl);
  const { X, mx, sm } = sc;
  const io = new HostIO(tf);
  for (const grp of bandGroups(pl, cfg)) {
    const { q0, M, R, keys } = band(pl, grp);
    const sT = io.mm(rows(io.read(x.k), d, keys, io.buf('k', R * d)), rowsT(io.read(x.q), d, q0, M, io.buf('qT', M * d)), R, d, M, io.buf('sT', R * M));
    // Out-of-band entries of a reused p are still 0: every group of this size writes the same band.
    const p = io.buf('p', M * R);
    for (let c0 = 0; c0 < M; c0 += C) {
      maskedBlock(pl, h, sT, M, keys, c0, q0, sc);
      sm.fill(0);
      for (let w = 0; w < W; w++) {
        const xo = w * C;
        for (let t = 0; t < C; t++) {
          const e = exp(X[xo + t]! - mx[t]!);
          X[xo + t] = e;
          sm[t] = sm[t]! + e;
        }
      }
      for (let t = 0; t < C; t++) {
        const lse32 = Math.fround(mx[t]! + Math.log(sm[t]!));
        lseH[q0 + c0 + t] = lse32;
        sm[t] = Math.exp(mx[t]! - lse32); // the row's factor
      }
      for (let t = 0; t < C; t++) {
        const f = sm[t]!;
        const po = (c0 + t) * R + c0;
        for (let w = 0; w < W; w++) p[po + w] = X[w * C + t]! * f;
      }
    }
    io.mm(p, rows(io.read(x.v), dv, keys, io.buf('v', R * dv)), M, R, dv, outH.subarray(q0 * dv, (q0 + M) * dv));
  }
  return [tf.tensor4d(outH, [x.B, x.H, x.N, dv]), tf.tensor3d(lseH, [x.B, x.H, x.N])];
}

/**
 * Backward of the band strategy: per group `k·qᵀ` and `v·dOutᵀ` by matmul, `p = exp(s − lse)` and
 * `ds = p·(dOut·v − D + dLse)` (0 on replaced logits) on the host over the band, then `ds·k`,
 * `dsᵀ·q`, `pᵀ·dOut` by matmul; window gradients scatter-added on the host.
 */
function bandBackward(
  tf: TF,
  pl: Plan,
  x: AttentionInputs,
  out: TfTensor,
  lse: TfTensor,
  dOut: TfTensor,
  dLse: TfTensor,
  cfg: AttentionConfig,
): [TfTensor, TfTensor, TfTensor] {
  const h = hostInputs(pl, x);
  const { C, W, scale } = pl;
  const S = pl.BH * pl.N;
  const { d, dv } = x;
  const io = new HostIO(tf);
  const lseH = f32(lse);
  // shift = dLse − D, D = dOut · out per row (doubles).
  const shift = new Float64Array(S);
  {
    const dLseH = f32(dLse);
    const dOH = io.read(dOut);
    const outH = io.read(out);
    for (let r = 0; r < S; r++) {
      let D = 0;
      for (let e = 0; e < dv; e++) D += dOH[r * dv + e]! * outH[r * dv + e]!;
      shift[r] = dLseH[r]! - D;
    }
  }
  const dqH = new Float32Array(S * d);
  // float32 accumulators, as the tensors they become: with the usual window (before + after ≤ 1) a key
  // gets at most two group partial sums, whose float32 sum is the correctly rounded one.
  const dkH = new Float32Array(S * d);
  const dvH = new Float32Array(S * dv);
  const sc = blockScratch(pl);
  const { X, rep } = sc;
  for (const grp of bandGroups(pl, cfg)) {
    const { q0, M, R, keys } = band(pl, grp);
    const kg = rows(io.read(x.k), d, keys, io.buf('k', R * d));
    const sT = io.mm(kg, rowsT(io.read(x.q), d, q0, M, io.buf('qT', M * d)), R, d, M, io.buf('sT', R * M));
    const dpT = io.mm(rows(io.read(x.v), dv, keys, io.buf('v', R * dv)), rowsT(io.read(dOut), dv, q0, M, io.buf('dOT', M * dv)), R, dv, M, io.buf('dpT', R * M));
    // Reused arrays: out-of-band entries stay 0 (same band for every group of this size), in-band
    // ones are all written below.
    const ds = io.buf('ds', M * R);
    const dsT = io.buf('dsT', R * M);
    const pT = io.buf('pT', R * M);
    for (let c0 = 0; c0 < M; c0 += C) {
      maskedBlock(pl, h, sT, M, keys, c0, q0, sc);
      const qb = q0 + c0;
      for (let w = 0; w < W; w++) {
        const xo = w * C;
        const to = (c0 + w) * M + c0;
        for (let t = 0; t < C; t++) {
          const pw = exp(X[xo + t]! - lseH[qb + t]!);
          pT[to + t] = pw;
          const g = rep[xo + t] === 0 ? pw * (dpT[to + t]! + shift[qb + t]!) : 0;
          dsT[to + t] = g;
          ds[(c0 + t) * R + c0 + w] = g;
        }
      }
    }
    const dqg = io.mm(ds, kg, M, R, d, dqH.subarray(q0 * d, (q0 + M) * d));
    if (scale !== 1) for (let j = 0; j < M * d; j++) dqg[j] = scale * dqg[j]!;
    scatterAdd(dkH, io.mm(dsT, slab(io.read(x.q), q0 * d, M * d, io.buf('q', M * d)), R, M, d, io.buf('dk', R * d)), d, keys, scale);
    scatterAdd(dvH, io.mm(pT, slab(io.read(dOut), q0 * dv, M * dv, io.buf('dO', M * dv)), R, M, dv, io.buf('dv', R * dv)), dv, keys, 1);
  }
  const shape = (w: number): [number, number, number, number] => [x.B, x.H, x.N, w];
  return [tf.tensor4d(dqH, shape(d)), tf.tensor4d(dkH, shape(d)), tf.tensor4d(dvH, shape(dv))];
}

/** `dst[keys[r], j] += scale · src[r, j]` for a `[R, w]` block. */
function scatterAdd(dst: Float32Array, src: Float32Array, w: number, keys: Int32Array, scale: number): void {
  const R = keys.length;
  for (let r = 0; r < R; r++) {
    const o = keys[r]! * w;
    const t = r * w;
    for (let j = 0; j < w; j++) dst[o + j] = dst[o + j]! + scale * src[t + j]!;
  }
}

// ---------------------------------------------------------------- entry points

/** Forward: `out` `[B·H·N, dv]`-shaped data and `lse` (reshape by the caller). Call inside `tf.tidy`. */
export function attentionForward(
  tf: TF,
  p: ChunkedAttentionParams<unknown>,
  x: AttentionInputs,
  cfg: AttentionConfig,
): [TfTensor, TfTensor] {
  const pl = plan(tf, p, x, cfg.strategy === 'batched');
  return cfg.strategy === 'band' ? bandForward(tf, pl, x, cfg) : batchedForward(tf, pl, x, cfg);
}

/** Backward: dq, dk, dv (reshape by the caller). Call inside `tf.tidy`. */
export function attentionBackward(
  tf: TF,
  p: ChunkedAttentionParams<unknown>,
  x: AttentionInputs,
  out: TfTensor,
  lse: TfTensor,
  dOut: TfTensor,
  dLse: TfTensor,
  cfg: AttentionConfig,
): [TfTensor, TfTensor, TfTensor] {
  const pl = plan(tf, p, x, cfg.strategy === 'batched');
  if (cfg.strategy === 'band') return bandBackward(tf, pl, x, out, lse, dOut, dLse, cfg);
  const S = pl.BH * pl.N;
  // shift = dLse − rowsum(dOut ⊙ out), once for all rows.
  const dO2 = tf.reshape(dOut, [S, x.dv]);
  const shift = tf.sub(tf.reshape(dLse, [S, 1]), tf.sum(tf.mul(dO2, tf.reshape(out, [S, x.dv])), -1, true));
  return batchedBackward(tf, pl, x, lse, dOut, shift, cfg);
}
