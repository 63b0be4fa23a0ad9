/**
 * Stable argsort along the last axis.
 *
 * Each row is sorted as (key, index) pairs held in parallel typed arrays, with a bottom-up merge sort
 * (insertion-sorted runs of {@link RUN}, then merge passes that ping-pong between two buffers). Merging
 * takes from the left run on ties, so equal keys keep their original order. NaN keys go last, in their
 * original order (as NumPy does); −0 and +0 compare equal.
 */
import type { Shape } from '../types.js';
import type { CpuStorage } from './storage.js';

/** Length of the runs sorted by insertion before merging. */
const RUN = 24;

/** Stable ascending argsort of every row of the last axis; int32 indices with the input's shape. */
export function argSort(x: CpuStorage, shape: Shape): Int32Array {
  const size = x.length;
  const out = new Int32Array(size);
  const len = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  if (size === 0 || len === 0) return out;
  const rows = size / len;
  const keys = new Float64Array(len);
  const idx = new Int32Array(len);
  const keysTmp = new Float64Array(len);
  const idxTmp = new Int32Array(len);
  for (let r = 0; r < rows; r++) {
    const base = r * len;
    // Copy the row; NaNs are set aside and appended after the sorted numbers.
    let n = 0;
    for (let i = 0; i < len; i++) {
      const v = x[base + i]!;
      if (v === v) {
        keys[n] = v;
        idx[n] = i;
        n++;
      }
    }
    const sorted = sortPairs(keys, idx, keysTmp, idxTmp, n);
    out.set(sorted.subarray(0, n), base);
    if (n < len) {
      let o = base + n;
      for (let i = 0; i < len; i++) if (x[base + i] !== x[base + i]) out[o++] = i;
    }
  }
  return out;
}

/**
 * Sorts the first `n` pairs (keys[i], idx[i]) by key, stably. Returns the index array that holds the
 * result (either `idx` or `idxTmp`).
 */
function sortPairs(keys: Float64Array, idx: Int32Array, keysTmp: Float64Array, idxTmp: Int32Array, n: number): Int32Array {
  // 1. Insertion sort of each run.
  for (let start = 0; start < n; start += RUN) {
    const end = Math.min(start + RUN, n);
    for (let i = start + 1; i < end; i++) {
      const k = keys[i]!;
      const id = idx[i]!;
      let j = i - 1;
      while (j >= start && keys[j]! > k) {
        keys[j + 1] = keys[j]!;
        idx[j + 1] = idx[j]!;
        j--;
      }
      keys[j + 1] = k;
      idx[j + 1] = id;
    }
  }
  // 2. Merge passes, alternating source and destination buffers.
  let srcK = keys;
  let srcI = idx;
  let dstK = keysTmp;
  let dstI = idxTmp;
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      let o = lo;
      while (i < mid && j < hi) {
        // `<=` takes the left element on ties: stable.
        if (srcK[i]! <= srcK[j]!) {
          dstK[o] = srcK[i]!;
          dstI[o++] = srcI[i++]!;
        } else {
          dstK[o] = srcK[j]!;
          dstI[o++] = srcI[j++]!;
        }
      }
      while (i < mid) {
        dstK[o] = srcK[i]!;
        dstI[o++] = srcI[i++]!;
      }
      while (j < hi) {
        dstK[o] = srcK[j]!;
        dstI[o++] = srcI[j++]!;
      }
    }
    const tk = srcK;
    srcK = dstK;
    dstK = tk;
    const ti = srcI;
    srcI = dstI;
    dstI = ti;
  }
  return srcI;
}
