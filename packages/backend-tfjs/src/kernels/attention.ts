/**
 * The fused chunked-attention kernel (forward and backward) on tfjs ops, processed in groups of chunks
 * so that one group's logits stay under a byte budget (never all windows' logits at once:
 * docs/architecture.md, "The fused chunked-attention kernel").
 * This file holds the entry points; the planning and group sizing are in attention-plan.ts.
 *
 * Two formulations of a group, chosen per tfjs backend:
 *
 * - `batched` (attention-batched.ts): the group's G chunks are a batch: queries `[G, C, d]` against
 *   their gathered windows `[G, W, d]` through one batched `tf.matMul`. Right where batched matmul is a
 *   fast kernel (cpu, webgl, webgpu, tensorflow).
 * - `band` (attention-band.ts; host-memory backends: wasm, cpu): G consecutive chunks of one (batch,
 *   head) row against the key slots of all their windows (a band of width W around the block diagonal
 *   plus some waste). Only the matrix products run on tfjs, as batch-1 non-transposed 2-D matmuls
 *   (tfjs-wasm runs only those on XNNPACK; its batched/transposed matmul is a naive loop, an order of
 *   magnitude slower); the masks, softmax and `ds` run on the host over the in-band keys only, with the
 *   CPU reference's arithmetic (attention-band-softmax.ts), and so do the data movement (the group's
 *   rows, transposed operands, the scatter of window gradients; attention-host-io.ts): tfjs-wasm's
 *   Gather and Transpose cost far more per element than a typed-array copy, and every tfjs call pays
 *   a fixed dispatch cost. The measurements behind this: docs/results/backend-tfjs.md, the tfjs-wasm
 *   kernel table.
 */
import type { ChunkedAttentionParams } from '@reformer/core';
import { bandBackward, bandForward } from './attention-band.js';
import { batchedBackward, batchedForward } from './attention-batched.js';
import { plan, type AttentionConfig, type AttentionInputs } from './attention-plan.js';
import type { TfModule, TfTensor } from '../types.js';

export type { AttentionConfig, AttentionInputs, AttentionStrategy } from './attention-plan.js';

/** Forward: `out` `[B·H·N, dv]`-shaped data and `lse` (reshape by the caller). Call inside `tf.tidy`. */
export function attentionForward(
  tf: TfModule,
  p: ChunkedAttentionParams<unknown>,
  x: AttentionInputs,
  cfg: AttentionConfig,
): [TfTensor, TfTensor] {
  const pl = plan(tf, p, x, cfg.strategy === 'batched');
  return cfg.strategy === 'band' ? bandForward(tf, pl, x, cfg) : batchedForward(tf, pl, x, cfg);
}

/** Backward: dq, dk, dv (reshape by the caller). Call inside `tf.tidy`. */
export function attentionBackward(
  tf: TfModule,
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
