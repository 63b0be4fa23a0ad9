/**
 * The benchmark's inputs, generated on the host from core's seeded Philox generator, so every backend
 * (and the peer baselines) sees bit-identical numbers.
 *
 * @module
 */
import { normalValues, uniformValues } from '@reformer/core';

/** Host inputs of one attention case, laid out `[batch, heads, length, dHead]`. */
export interface HostInputs {
  shape: [number, number, number, number];
  /** Shared queries/keys (LSH's `qk`; full and local attention use it as queries). */
  qk: Float32Array;
  /** Keys of every variant: `qk` RMS-normalised and divided by √dHead (unit length), as LSH attention makes them. */
  keys: Float32Array;
  v: Float32Array;
  /** Cotangent of the output for the backward pass. */
  dOut: Float32Array;
}

/**
 * Generates the inputs of one case.
 *
 * `clustered` (default): each (batch, head) has `length / chunkLength` random unit directions; every
 * position belongs to one of them and its vector is `√dHead · (direction + 0.3 · noise/√dHead)`, so a
 * query's attention concentrates on the ~chunkLength positions of its cluster, as in trained models
 * (i.i.d. Gaussian vectors give almost uniform attention, which no sparse attention can approximate).
 * `gaussian`: i.i.d. N(0, 1) entries. Values and the cotangent are N(0, 1) in both.
 */
export function makeInputs(
  batch: number,
  heads: number,
  length: number,
  dHead: number,
  options: { seed: number; kind: 'clustered' | 'gaussian'; chunkLength: number },
): HostInputs {
  const n = batch * heads * length * dHead;
  const seed = options.seed * 1_000_003 + length;
  const qk = new Float32Array(n);
  if (options.kind === 'gaussian') {
    const g = normalValues(seed, n, 0);
    for (let i = 0; i < n; i++) qk[i] = g[i]!;
  } else {
    const nClusters = Math.max(1, Math.floor(length / options.chunkLength));
    const rows = batch * heads;
    const dirs = normalValues(seed, rows * nClusters * dHead, 1);
    for (let r = 0; r < rows * nClusters; r++) {
      let s = 0;
      for (let j = 0; j < dHead; j++) s += dirs[r * dHead + j]! ** 2;
      const inv = 1 / Math.sqrt(s);
      for (let j = 0; j < dHead; j++) dirs[r * dHead + j]! *= inv;
    }
    const pick = uniformValues(seed, rows * length, 2);
    const noise = normalValues(seed, n, 3);
    const scale = Math.sqrt(dHead);
    const eps = 0.3 / Math.sqrt(dHead);
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < length; i++) {
        const c = Math.min(nClusters - 1, Math.floor(pick[r * length + i]! * nClusters));
        const base = (r * length + i) * dHead;
        const dir = (r * nClusters + c) * dHead;
        for (let j = 0; j < dHead; j++) qk[base + j] = scale * (dirs[dir + j]! + eps * noise[base + j]!);
      }
    }
  }
  const keys = new Float32Array(n);
  const rowsAll = batch * heads * length;
  for (let r = 0; r < rowsAll; r++) {
    let s = 0;
    for (let j = 0; j < dHead; j++) s += qk[r * dHead + j]! ** 2;
    const f = 1 / Math.sqrt(s / dHead + 1e-6) / Math.sqrt(dHead);
    for (let j = 0; j < dHead; j++) keys[r * dHead + j] = qk[r * dHead + j]! * f;
  }
  const vs = normalValues(seed, n, 4);
  const ds = normalValues(seed, n, 5);
  const v = new Float32Array(n);
  const dOut = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    v[i] = vs[i]!;
    dOut[i] = ds[i]!;
  }
  return { shape: [batch, heads, length, dHead], qk, keys, v, dOut };
}
