/** A growable host matrix of `width`-wide float32 rows (one per position). @internal */
export class Rows {
  readonly width: number;
  #data: Float32Array;
  #count = 0;

  constructor(width: number, capacity = 64) {
    this.width = width;
    this.#data = new Float32Array(width * Math.max(1, capacity));
  }

  /** Number of rows. */
  get count(): number {
    return this.#count;
  }

  /** The backing array (rows `0 … count − 1` are valid; it is replaced when it grows). */
  get data(): Float32Array {
    return this.#data;
  }

  /** Appends `n` rows from `src` starting at element `offset`, each `width` long and `stride` apart. */
  append(src: Float32Array, offset: number, stride: number, n: number): void {
    const need = (this.#count + n) * this.width;
    if (need > this.#data.length) {
      const next = new Float32Array(Math.max(need, this.#data.length * 2));
      next.set(this.#data.subarray(0, this.#count * this.width));
      this.#data = next;
    }
    for (let i = 0; i < n; i++) {
      this.#data.set(src.subarray(offset + i * stride, offset + i * stride + this.width), (this.#count + i) * this.width);
    }
    this.#count += n;
  }
}

/**
 * The positions of one hash round kept sorted by (bucket, position), as LSH attention sorts them, with
 * new (larger) positions inserted at the end of their bucket's run. @internal
 */
export class SortedRound {
  #positions = new Int32Array(64);
  #buckets = new Int32Array(64);
  #count = 0;

  /** Number of positions. */
  get count(): number {
    return this.#count;
  }

  /** The position at sorted index `k`. */
  at(k: number): number {
    return this.#positions[k]!;
  }

  /** Inserts `position` (larger than every position so far) of `bucket`; returns its sorted index. */
  insert(position: number, bucket: number): number {
    let lo = 0;
    let hi = this.#count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#buckets[mid]! <= bucket) lo = mid + 1;
      else hi = mid;
    }
    if (this.#count === this.#positions.length) {
      const grow = (a: Int32Array) => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.#positions = grow(this.#positions);
      this.#buckets = grow(this.#buckets);
    }
    this.#positions.copyWithin(lo + 1, lo, this.#count);
    this.#buckets.copyWithin(lo + 1, lo, this.#count);
    this.#positions[lo] = position;
    this.#buckets[lo] = bucket;
    this.#count++;
    return lo;
  }
}
