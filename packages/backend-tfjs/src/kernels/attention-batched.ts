/**
 * The `batched` strategy of the chunked-attention kernel, all on tfjs ops: a group's G chunks are a
 * batch, queries `[G, C, d]` against their gathered windows `[G, W, d]` through one batched `tf.matMul`
 * (right where batched matmul is a fast kernel: cpu, webgl, webgpu, tensorflow).
 *
 * Masks are built in float32 arithmetic (tfjs-wasm's integer and boolean broadcasts are slow paths):
 * with `keep`, `bad` and `self` in {0, 1}, `s · keep + repl` REPLACES masked logits by exactly −1e9 /
 * −1e5 and leaves the others bit-identical (for finite logits). Call inside `tf.tidy`.
 */
import { MASKED_LOGIT, SELF_LOGIT } from '@reformer/core';
import { batchedGroups, windowChunks, type AttentionConfig, type AttentionInputs, type Plan } from './attention-plan.js';
import type { TfModule, TfTensor } from '../types.js';

/** 0/1 float of "a ≠ b" for integer-valued floats: clip(|a − b|, 0, 1). */
function differs(tf: TfModule, a: TfTensor, b: TfTensor): TfTensor {
  return tf.clipByValue(tf.abs(tf.sub(a, b)), 0, 1);
}

/**
 * The replacement of one block of logits: query metadata `[..., M, 1]`, key metadata `[..., 1, K]`
 * (gathered by `q`/`k`) → `keep` (1 where the logit stays) and `repl` (−1e9 / −1e5 where replaced, 0
 * elsewhere), or undefined when no rule applies.
 */
function masks(
  tf: TfModule,
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
function softmaxLse(tf: TfModule, s: TfTensor): { p: TfTensor; lse: TfTensor } {
  const m = tf.max(s, -1, true);
  const e = tf.exp(tf.sub(s, m));
  const lse = tf.add(m, tf.log(tf.sum(e, -1, true)));
  return { p: tf.mul(e, tf.exp(tf.sub(m, lse))), lse };
}

function int1d(tf: TfModule, values: number[] | Int32Array): TfTensor {
  return tf.tensor1d(values instanceof Int32Array ? values : Int32Array.from(values), 'int32');
}

function concat0(tf: TfModule, ts: TfTensor[]): TfTensor {
  return ts.length === 1 ? ts[0]! : tf.concat(ts, 0);
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

function batchedLogits(tf: TfModule, pl: Plan, x: AttentionInputs, g0: number, G: number): BatchedGroup {
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

/** The dropout factors `[G, C, W]` of a group (host-computed, see attention-dropout.ts), or undefined. */
function dropoutFactors(tf: TfModule, pl: Plan, g0: number, G: number): TfTensor | undefined {
  if (pl.dropout === undefined) return undefined;
  return tf.tensor3d(pl.dropout.batchedBlock(g0, G, pl.C, pl.nW, windowChunks(pl, g0, G)), [G, pl.C, pl.W]);
}

/** Forward of the batched strategy: `out` `[BH·nC, C, dv]` and `lse` `[BH·nC, C, 1]`, one tidy per group. */
export function batchedForward(tf: TfModule, pl: Plan, x: AttentionInputs, cfg: AttentionConfig): [TfTensor, TfTensor] {
  const outs: TfTensor[] = [];
  const lses: TfTensor[] = [];
  for (const [g0, g] of batchedGroups(pl, cfg)) {
    const [o, l] = tf.tidy(() => {
      const b = batchedLogits(tf, pl, x, g0, g);
      const { p, lse } = softmaxLse(tf, b.s);
      const z = dropoutFactors(tf, pl, g0, g);
      return [tf.matMul(z === undefined ? p : tf.mul(p, z), b.vw), lse];
    });
    outs.push(o!);
    lses.push(l!);
  }
  return [concat0(tf, outs), concat0(tf, lses)];
}

/**
 * Backward of the batched strategy, given `shift = dLse − rowsum(dOut ⊙ out)` for every row: dq per
 * group, and the window gradients of dk, dv scatter-added back to their chunks once at the end.
 */
export function batchedBackward(
  tf: TfModule,
  pl: Plan,
  x: AttentionInputs,
  lse: TfTensor,
  dOut: TfTensor,
  shift: TfTensor,
  cfg: AttentionConfig,
): [TfTensor, TfTensor, TfTensor] {
  const { C, nW } = pl;
  const total = pl.BH * pl.nC;
  const lse3 = tf.reshape(lse, [total, C]);
  const shift3 = tf.reshape(shift, [total, C]);
  const dO3 = tf.reshape(dOut, [total, C, x.dv]);
  const dqs: TfTensor[] = [];
  const dks: TfTensor[] = [];
  const dvs: TfTensor[] = [];
  const wins: TfTensor[] = [];
  for (const [g0, g] of batchedGroups(pl, cfg)) {
    const r = tf.tidy(() => {
      const b = batchedLogits(tf, pl, x, g0, g);
      const p = tf.exp(tf.sub(b.s, tf.reshape(tf.gather(lse3, b.own), [g, C, 1])));
      const dO = tf.gather(dO3, b.own);
      const z = dropoutFactors(tf, pl, g0, g);
      const dp = tf.matMul(dO, b.vw, false, true);
      // With dropout z: dv += (p·z)ᵀ·dOut and ds = p·(z·dOut·v + shift).
      let ds = tf.mul(p, tf.add(z === undefined ? dp : tf.mul(dp, z), tf.reshape(tf.gather(shift3, b.own), [g, C, 1])));
      if (b.keep !== undefined) ds = tf.mul(ds, b.keep);
      let dq = tf.matMul(ds, b.kw);
      let dkw = tf.matMul(ds, b.qg, true, false);
      if (pl.scale !== 1) {
        dq = tf.mul(dq, pl.scale);
        dkw = tf.mul(dkw, pl.scale);
      }
      const dvw = tf.matMul(z === undefined ? p : tf.mul(p, z), dO, true, false);
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
