/** What several test files share: seeded data, and one chunked-attention problem run forward and backward. */
import type { Backend, ChunkedAttentionParams, KernelTensor, Shape } from '@reformer/core';

/** `n` floats uniform in `[offset − scale, offset + scale)` from a linear congruential generator. */
export function random(n: number, seed: number, scale = 1, offset = 0): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 2 * scale + offset;
  }
  return out;
}

/** The raw bits of float results, for exact comparison (NaN payloads and −0 included). */
export const bits = (x: Float32Array) => new Uint32Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));

/** A chunked-attention call: shapes, window, flags and which side inputs it has. */
export interface AttentionProblem {
  B: number;
  H: number;
  N: number;
  d: number;
  dv: number;
  chunkLength: number;
  chunksBefore: number;
  chunksAfter: number;
  causal: boolean;
  excludeSelf: boolean;
  /** Positions: a permutation per (batch, head) row instead of `0 … N − 1`. */
  permute: boolean;
  /** Bucket ids `(position · 31) mod buckets`, or none when 0. */
  buckets: number;
  /** A padding mask `[B, N]` that hides every position ≡ 5 (mod 11). */
  mask: boolean;
}

/** An LSH layer's call: 2 heads, 8 chunks of 64, one chunk before, d 64, permuted positions, 4 buckets, causal, excludeSelf. */
export const LSH_LIKE: AttentionProblem = {
  ...{ B: 1, H: 2, N: 512, d: 64, dv: 64, chunkLength: 64, chunksBefore: 1, chunksAfter: 0 },
  ...{ causal: true, excludeSelf: true, permute: true, buckets: 4, mask: false },
};

/** The inputs of `p` on `be` (seeded), the upstream gradients, and every tensor made (to free). */
export function attentionInputs<S>(be: Backend<S>, p: AttentionProblem) {
  const { B, H, N, d, dv } = p;
  const f = (data: Float32Array, shape: number[]) => writeTensor(be, data, shape);
  const i = (data: Int32Array, shape: number[]) => writeTensor(be, data, shape);
  const positions = new Int32Array(B * H * N);
  for (let r = 0; r < B * H; r++) {
    const perm = Array.from({ length: N }, (_, j) => j);
    if (p.permute) perm.sort((x, y) => ((x * 7919 + r * 13) % N) - ((y * 7919 + r * 13) % N));
    positions.set(perm, r * N);
  }
  const params: ChunkedAttentionParams<S> = {
    chunkLength: p.chunkLength,
    chunksBefore: p.chunksBefore,
    chunksAfter: p.chunksAfter,
    causal: p.causal,
    excludeSelf: p.excludeSelf,
    scale: 0.7,
    positions: p.permute ? i(positions, [B, H, N]) : undefined,
    buckets:
      p.buckets > 0
        ? i(
            Int32Array.from(positions, (x) => (x * 31) % p.buckets),
            [B, H, N],
          )
        : undefined,
    keyMask: p.mask
      ? i(
          Int32Array.from({ length: B * N }, (_, j) => (j % 11 === 5 ? 0 : 1)),
          [B, N],
        )
      : undefined,
  };
  const q = f(random(B * H * N * d, 1, 2), [B, H, N, d]);
  const k = f(random(B * H * N * d, 2, 2), [B, H, N, d]);
  const v = f(random(B * H * N * dv, 3), [B, H, N, dv]);
  const dOut = f(random(B * H * N * dv, 4), [B, H, N, dv]);
  const dLse = f(random(B * H * N, 5), [B, H, N]);
  const made = [q, k, v, dOut, dLse, params.positions, params.buckets, params.keyMask].filter((t) => t !== undefined);
  return { q, k, v, dOut, dLse, params, made };
}

/** Largest `|got − want| / max(floor, |want|)` (relative error, absolute below `floor`); lengths must agree. */
export function worstRelative(got: Float32Array, want: Float32Array, floor = 1e-30): number {
  if (got.length !== want.length) throw new Error(`worstRelative: ${got.length} values against ${want.length}`);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / Math.max(floor, Math.abs(want[i]!)));
  return worst;
}

/** A new tensor of `shape` on `be` holding `data` (int32 for an Int32Array, float32 otherwise). */
export function writeTensor<S>(be: Backend<S>, data: Float32Array | Int32Array, shape: Shape): KernelTensor<S> {
  const dtype = data instanceof Int32Array ? 'int32' : 'float32';
  return { storage: be.write(data, dtype), shape: [...shape], dtype };
}

/** A tensor's values on the host. */
export function readTensor<S>(be: Backend<S>, t: KernelTensor<S>): Float32Array {
  return be.readSync!(
    t.storage,
    'float32',
    t.shape.reduce((a, b) => a * b, 1),
  ) as Float32Array;
}

/** Forward and backward of `p` on `be`: out, lse, dq, dk, dv on the host (every tensor freed). */
export function runAttention<S>(be: Backend<S>, p: AttentionProblem): Float32Array[] {
  const { q, k, v, dOut, dLse, params, made } = attentionInputs(be, p);
  const { out, lse } = be.chunkedAttention!(q, k, v, params);
  const g = be.chunkedAttentionBackward!(q, k, v, out, lse, dOut, dLse, params);
  const outputs = [out, lse, g.dq, g.dk, g.dv];
  const result = outputs.map((t) => readTensor(be, t));
  for (const t of [...made, ...outputs]) be.free(t.storage);
  return result;
}

/** `op(a)·op(b)` of host arrays on `be` (shapes as the Backend contract takes them), read back; every tensor freed. */
export function matmulOf<S>(
  be: Backend<S>,
  a: Float32Array,
  aShape: Shape,
  b: Float32Array,
  bShape: Shape,
  tA: boolean,
  tB: boolean,
  outShape: Shape,
): Float32Array {
  const x: KernelTensor<S> = { storage: be.write(a, 'float32'), shape: aShape, dtype: 'float32' };
  const y: KernelTensor<S> = { storage: be.write(b, 'float32'), shape: bShape, dtype: 'float32' };
  const z = be.matmul(x, y, tA, tB, outShape);
  const out = readTensor(be, z);
  for (const t of [x, y, z]) be.free(t.storage);
  return out;
}
