import { attendLast, bandWindow, type KeyValueRows, type WindowKey } from './window.js';
import { Rows, SortedRound } from './rows.js';

/** What every layer's decoding cache does. @internal */
export interface AttentionCache {
  /** Positions cached so far. */
  readonly length: number;
  /**
   * Appends `count` positions per batch row: keys and values `[batch, count, heads·d]` (LSH: the
   * normalised keys), and for LSH the within-round buckets `[batch, heads, rounds, count]`.
   */
  append(keys: Float32Array, values: Float32Array, count: number, buckets?: Int32Array): void;
  /** The attention output `[batch, heads·d]` of the last cached position for queries `[batch, heads·d]`. */
  attendLast(queries: Float32Array): Float32Array;
}

/** Sizes shared by the caches. @internal */
export interface CacheShape {
  batch: number;
  heads: number;
  headSize: number;
}

abstract class KeyValueCache implements AttentionCache {
  protected readonly keys: Rows[];
  protected readonly values: Rows[];
  protected readonly shape: CacheShape;

  constructor(shape: CacheShape) {
    this.shape = shape;
    const width = shape.heads * shape.headSize;
    this.keys = Array.from({ length: shape.batch }, () => new Rows(width));
    this.values = Array.from({ length: shape.batch }, () => new Rows(width));
  }

  get length(): number {
    return this.keys[0]!.count;
  }

  append(keys: Float32Array, values: Float32Array, count: number, _buckets?: Int32Array): void {
    const width = this.shape.heads * this.shape.headSize;
    for (let b = 0; b < this.shape.batch; b++) {
      this.keys[b]!.append(keys, b * count * width, width, count);
      this.values[b]!.append(values, b * count * width, width, count);
    }
  }

  protected rows(b: number, h: number): KeyValueRows {
    const width = this.shape.heads * this.shape.headSize;
    return {
      keys: this.keys[b]!.data,
      values: this.values[b]!.data,
      stride: width,
      offset: h * this.shape.headSize,
      width: this.shape.headSize,
    };
  }

  /** The window(s) of the last query of head h in batch row b, with its output written to `out`. */
  protected abstract attendHead(q: Float32Array, qOffset: number, b: number, h: number, out: Float64Array, outOffset: number): void;

  attendLast(queries: Float32Array): Float32Array {
    const { batch, heads, headSize } = this.shape;
    const out = new Float64Array(batch * heads * headSize);
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        const at = (b * heads + h) * headSize;
        this.attendHead(queries, at, b, h, out, at);
      }
    }
    return Float32Array.from(out);
  }
}

/**
 * Local (banded) attention, `causal`: the last query sees the chunks of its band (Hugging Face's local
 * layout at the current length), logits `q·k/√d`.
 */
export class LocalCache extends KeyValueCache {
  readonly #band: { chunk: number; before: number; after: number } | null;

  /** `band` null: full attention over every position. */
  constructor(shape: CacheShape, band: { chunk: number; before: number; after: number } | null) {
    super(shape);
    this.#band = band;
  }

  protected attendHead(q: Float32Array, qOffset: number, b: number, h: number, out: Float64Array, outOffset: number): void {
    const length = this.length;
    const window: WindowKey[] = this.#band
      ? bandWindow(length, this.#band.chunk, this.#band.before, this.#band.after)
      : Array.from({ length }, (_, i) => i);
    attendLast(
      q,
      qOffset,
      window,
      this.rows(b, h),
      { query: length - 1, scale: 1 / Math.sqrt(this.shape.headSize), excludeSelf: false },
      out,
      outOffset,
    );
  }
}

/**
 * LSH attention, causal: per round the positions stay sorted by (bucket, position) as LSH attention
 * sorts them; the last query's window is the one a full forward over the current length gives it (its
 * sorted slot's chunk and neighbours, rounds laid end to end, padded rounds, wrap-around), and the
 * rounds are combined by their logsumexps. Below `chunk + 1` positions: plain attention over all
 * positions, without hashing (Hugging Face's short-sequence path).
 */
export class LSHCache extends KeyValueCache {
  readonly #rounds: SortedRound[][]; // [b·heads + h][r]
  readonly #lastRank: Int32Array; // sorted index of the last position, per (b, h, r)
  readonly #o: { chunk: number; before: number; after: number; nHashes: number };

  constructor(shape: CacheShape, o: { chunk: number; before: number; after: number; nHashes: number }) {
    super(shape);
    this.#o = o;
    this.#rounds = Array.from({ length: shape.batch * shape.heads }, () => Array.from({ length: o.nHashes }, () => new SortedRound()));
    this.#lastRank = new Int32Array(shape.batch * shape.heads * o.nHashes);
  }

  override append(keys: Float32Array, values: Float32Array, count: number, buckets?: Int32Array): void {
    if (buckets === undefined) throw new Error('LSHCache.append: buckets are required');
    const start = this.length;
    super.append(keys, values, count, buckets);
    const { batch, heads } = this.shape;
    const nR = this.#o.nHashes;
    for (let bh = 0; bh < batch * heads; bh++) {
      for (let r = 0; r < nR; r++) {
        const round = this.#rounds[bh]![r]!;
        for (let i = 0; i < count; i++) {
          this.#lastRank[bh * nR + r] = round.insert(start + i, buckets[(bh * nR + r) * count + i]!);
        }
      }
    }
  }

  protected attendHead(q: Float32Array, qOffset: number, b: number, h: number, out: Float64Array, outOffset: number): void {
    const { chunk, before, after, nHashes } = this.#o;
    const length = this.length;
    const rows = this.rows(b, h);
    const opts = { query: length - 1, scale: 1, excludeSelf: true };
    if (length <= chunk) {
      attendLast(
        q,
        qOffset,
        Array.from({ length }, (_, i) => i),
        rows,
        opts,
        out,
        outOffset,
      );
      return;
    }
    const bh = b * this.shape.heads + h;
    const padded = Math.ceil(length / chunk) * chunk;
    const chunks = (nHashes * padded) / chunk;
    const d = this.shape.headSize;
    const outs = new Float64Array(nHashes * d);
    const lses: number[] = [];
    for (let r = 0; r < nHashes; r++) {
      const slot = r * padded + this.#lastRank[bh * nHashes + r]!;
      const n = Math.floor(slot / chunk);
      const window: WindowKey[] = [];
      for (let delta = -before; delta <= after; delta++) {
        const m = (((n + delta) % chunks) + chunks) % chunks;
        for (let i = 0; i < chunk; i++) {
          const s = m * chunk + i;
          const k = s % padded;
          window.push(k < length ? this.#rounds[bh]![Math.floor(s / padded)]!.at(k) : -1);
        }
      }
      lses.push(attendLast(q, qOffset, window, rows, opts, outs, r * d));
    }
    if (nHashes === 1) {
      for (let i = 0; i < d; i++) out[outOffset + i] = outs[i]!;
      return;
    }
    const max = Math.max(...lses);
    const total = Math.fround(max + Math.log(lses.reduce((s, l) => s + Math.exp(l - max), 0)));
    for (let i = 0; i < d; i++) out[outOffset + i] = 0;
    lses.forEach((l, r) => {
      const w = Math.exp(l - total);
      for (let i = 0; i < d; i++) out[outOffset + i] = out[outOffset + i]! + w * outs[r * d + i]!;
    });
  }
}
