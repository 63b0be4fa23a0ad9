/**
 * The `band` strategy of the chunked-attention kernel (host-memory tfjs backends: wasm, cpu): G
 * consecutive chunks of one (batch, head) row against the key slots of all their windows. Only the
 * matrix products run on tfjs (`HostIO.mm`); the masks, softmax and `ds` run on the host
 * (attention-band-softmax.ts), and so does the data movement (attention-host-io.ts).
 */
import { bandGrad, bandSoftmax, blockScratch, hostInputs } from './attention-band-softmax.js';
import { f32, HostIO, rows, rowsT, scatterAdd, slab } from './attention-host-io.js';
import { band, bandGroups, type AttentionConfig, type AttentionInputs, type Plan } from './attention-plan.js';
import type { TfModule, TfTensor } from '../types.js';

/**
 * Forward of the band strategy. Per group: one XNNPACK matmul for the band's transposed logits
 * `k·qᵀ` `[R, M]`, the masked softmax on the host over the W in-band keys of each query only (CPU
 * reference arithmetic: doubles, lse rounded to float32, `p = exp(s − max)·exp(max − lse₃₂)`;
 * out-of-band p stay exactly 0), one matmul `p · v`. Products are oriented so that the right operand
 * (which XNNPACK packs on every call) is the smaller one.
 */
export function bandForward(tf: TfModule, pl: Plan, x: AttentionInputs, cfg: AttentionConfig): [TfTensor, TfTensor] {
  const h = hostInputs(pl, x);
  const { d, dv } = x;
  const S = pl.BH * pl.N;
  const outH = new Float32Array(S * dv);
  const lseH = new Float32Array(S);
  const sc = blockScratch(pl);
  const io = new HostIO(tf);
  for (const grp of bandGroups(pl, cfg)) {
    const b = band(pl, grp);
    const { q0, M, R, keys } = b;
    const sT = io.mm(
      rows(io.read(x.k), d, keys, io.buf('k', R * d)),
      rowsT(io.read(x.q), d, q0, M, io.buf('qT', M * d)),
      R,
      d,
      M,
      io.buf('sT', R * M),
    );
    // Out-of-band entries of a reused p are still 0: every group of this size writes the same band.
    const p = io.buf('p', M * R);
    bandSoftmax(pl, h, b, sT, sc, p, lseH);
    io.mm(p, rows(io.read(x.v), dv, keys, io.buf('v', R * dv)), M, R, dv, outH.subarray(q0 * dv, (q0 + M) * dv));
  }
  return [tf.tensor4d(outH, [x.B, x.H, x.N, dv]), tf.tensor3d(lseH, [x.B, x.H, x.N])];
}

/**
 * Backward of the band strategy: per group `k·qᵀ` and `v·dOutᵀ` by matmul, `p = exp(s − lse)` and
 * `ds = p·(dOut·v − D + dLse)` (0 on replaced logits) on the host over the band, then `ds·k`,
 * `dsᵀ·q`, `pᵀ·dOut` by matmul; window gradients scatter-added on the host.
 */
export function bandBackward(
  tf: TfModule,
  pl: Plan,
  x: AttentionInputs,
  out: TfTensor,
  lse: TfTensor,
  dOut: TfTensor,
  dLse: TfTensor,
  cfg: AttentionConfig,
): [TfTensor, TfTensor, TfTensor] {
  const h = hostInputs(pl, x);
  const { scale } = pl;
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
  for (const grp of bandGroups(pl, cfg)) {
    const b = band(pl, grp);
    const { q0, M, R, keys } = b;
    const kg = rows(io.read(x.k), d, keys, io.buf('k', R * d));
    const sT = io.mm(kg, rowsT(io.read(x.q), d, q0, M, io.buf('qT', M * d)), R, d, M, io.buf('sT', R * M));
    const dpT = io.mm(
      rows(io.read(x.v), dv, keys, io.buf('v', R * dv)),
      rowsT(io.read(dOut), dv, q0, M, io.buf('dOT', M * dv)),
      R,
      dv,
      M,
      io.buf('dpT', R * M),
    );
    // Reused arrays: out-of-band entries stay 0 (same band for every group of this size), in-band
    // ones are all written below.
    const ds = io.buf('ds', M * R);
    const dsT = io.buf('dsT', R * M);
    const pT = io.buf('pT', R * M);
    bandGrad(pl, h, b, sT, dpT, lseH, shift, sc, { ds, dsT, pT });
    const dqg = io.mm(ds, kg, M, R, d, dqH.subarray(q0 * d, (q0 + M) * d));
    if (scale !== 1) for (let j = 0; j < M * d; j++) dqg[j] = scale * dqg[j]!;
    scatterAdd(dkH, io.mm(dsT, slab(io.read(x.q), q0 * d, M * d, io.buf('q', M * d)), R, M, d, io.buf('dk', R * d)), d, keys, scale);
    scatterAdd(dvH, io.mm(pT, slab(io.read(dOut), q0 * dv, M * dv, io.buf('dO', M * dv)), R, M, dv, io.buf('dv', R * dv)), dv, keys, 1);
  }
  const shape = (w: number): [number, number, number, number] => [x.B, x.H, x.N, w];
  return [tf.tensor4d(dqH, shape(d)), tf.tensor4d(dkH, shape(d)), tf.tensor4d(dvH, shape(dv))];
}
