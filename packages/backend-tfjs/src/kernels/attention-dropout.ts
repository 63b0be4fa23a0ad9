/**
 * Attention-probability dropout (`ChunkedAttentionParams.dropout`) for the tfjs strategies: core's
 * counter-based hash evaluated on the host for the (query, key) pairs of one group, so the factors are
 * bit-identical to the CPU and WebGPU kernels' and nothing is stored between forward and backward.
 * tfjs has no 32-bit integer multiply-with-wraparound or bitwise ops, hence the host; the positions it
 * needs are read once per call (`dataSync`: on webgl a synchronous readback).
 */
import {
  attentionDropoutKeeps,
  attentionDropoutRowKey,
  attentionDropoutWords,
  type AttentionDropout,
  type AttentionDropoutWords,
} from '@reformer/core';
import { i32 } from './attention-host-io.js';
import type { AttentionInputs } from './attention-plan.js';

/** The dropout of one call: the hash words and what locates a slot (heads, slots per row and round). */
export class DropoutPlan {
  private constructor(
    readonly words: AttentionDropoutWords,
    readonly H: number,
    readonly N: number,
    readonly roundLength: number,
    /** Position of every global slot `bh·N + slot`. */
    readonly pos: Int32Array,
  ) {}

  /** The plan of a call, or undefined without dropout (or with rate 0). */
  static of(drop: AttentionDropout | undefined, x: AttentionInputs, pos?: Int32Array): DropoutPlan | undefined {
    if (drop === undefined || !(drop.rate > 0)) return undefined;
    const S = x.B * x.H * x.N;
    let positions = pos;
    if (positions === undefined) {
      if (x.positions !== undefined) positions = i32(x.positions);
      else {
        positions = new Int32Array(S);
        for (let i = 0; i < S; i++) positions[i] = i % x.N;
      }
    }
    return new DropoutPlan(attentionDropoutWords(drop.rate, drop.seed), x.H, x.N, drop.roundLength ?? x.N, positions);
  }

  /** The row key of the query in global slot `g` (core's `attentionDropoutRowKey`). */
  rowKey(g: number): number {
    const bh = Math.floor(g / this.N);
    const b = Math.floor(bh / this.H);
    return attentionDropoutRowKey(this.words, b, bh - b * this.H, Math.floor((g - bh * this.N) / this.roundLength), this.pos[g]!);
  }

  /** The factor (1/(1 − rate) or 0) of the query with row key `row` on the key in global slot `k`. */
  factor(row: number, k: number): number {
    return attentionDropoutKeeps(this.words, row, this.pos[k]!) ? this.words.keepScale : 0;
  }

  /**
   * The factors of a batched group, `[G, C, nW·C]`: chunk i (global chunk g0 + i) of C query slots
   * against its window chunks `win[i·nW + o]`.
   */
  batchedBlock(g0: number, G: number, C: number, nW: number, win: Int32Array): Float32Array {
    const W = nW * C;
    const z = new Float32Array(G * C * W);
    for (let i = 0; i < G; i++) {
      for (let t = 0; t < C; t++) {
        const row = this.rowKey((g0 + i) * C + t);
        const zo = (i * C + t) * W;
        for (let o = 0; o < nW; o++) {
          const k0 = win[i * nW + o]! * C;
          for (let u = 0; u < C; u++) z[zo + o * C + u] = this.factor(row, k0 + u);
        }
      }
    }
    return z;
  }
}
