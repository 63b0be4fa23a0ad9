// Stable ascending argsort of rows (LSD radix sort on order-preserving 32-bit keys, 8 bits a pass,
// passes whose byte is the same for every key skipped; insertion sort for short rows) and argmax.
// Float keys: NaN last in original order, −0 equal to +0 — the reference's order exactly.

/** Order-preserving unsigned key of a float32 (NaN → largest, −0 → +0). */
// @ts-ignore: decorator
@inline function floatKey(v: f32): u32 {
  if (v != v) return 0xffffffff;
  let bits = reinterpret<u32>(v);
  if (bits == 0x80000000) bits = 0;
  return (bits & 0x80000000) != 0 ? ~bits : bits | 0x80000000;
}

/** Bytes of scratch `argSortRows` needs for rows of `n`: four arrays of n u32 and a histogram. */
export function argSortScratchBytes(n: i32): i32 {
  return 16 * n + 1024 + 64;
}

/**
 * Stable argsort of `rows` rows of `n` keys at x (float32 when `isFloat`, else int32) into out (int32).
 */
export function argSortRows(x: usize, out: usize, rows: i32, n: i32, isFloat: bool, scratch: usize): void {
  const keysA = scratch;
  const idxA = keysA + (<usize>n << 2);
  const keysB = idxA + (<usize>n << 2);
  const idxB = keysB + (<usize>n << 2);
  const hist = idxB + (<usize>n << 2);
  for (let r = 0; r < rows; r++) {
    const row = x + (<usize>(r * n) << 2);
    for (let i = 0; i < n; i++) {
      const at = <usize>i << 2;
      store<u32>(keysA + at, isFloat ? floatKey(load<f32>(row + at)) : load<u32>(row + at) ^ 0x80000000);
      store<i32>(idxA + at, i);
    }
    let srcK = keysA, srcI = idxA, dstK = keysB, dstI = idxB;
    if (n < 32) {
      for (let i = 1; i < n; i++) {
        const k = load<u32>(srcK + (<usize>i << 2));
        let j = i - 1;
        while (j >= 0 && load<u32>(srcK + (<usize>j << 2)) > k) {
          store<u32>(srcK + (<usize>(j + 1) << 2), load<u32>(srcK + (<usize>j << 2)));
          store<i32>(srcI + (<usize>(j + 1) << 2), load<i32>(srcI + (<usize>j << 2)));
          j--;
        }
        store<u32>(srcK + (<usize>(j + 1) << 2), k);
        store<i32>(srcI + (<usize>(j + 1) << 2), i);
      }
    } else {
      for (let shift: u32 = 0; shift < 32; shift += 8) {
        memory.fill(hist, 0, 1024);
        for (let i = 0; i < n; i++) {
          const b = (load<u32>(srcK + (<usize>i << 2)) >> shift) & 0xff;
          const h = hist + (<usize>b << 2);
          store<u32>(h, load<u32>(h) + 1);
        }
        // Skip a pass whose byte is the same for every key.
        const first = (load<u32>(srcK) >> shift) & 0xff;
        if (load<u32>(hist + (<usize>first << 2)) == <u32>n) continue;
        let sum: u32 = 0;
        for (let b = 0; b < 256; b++) {
          const h = hist + (<usize>b << 2);
          const c = load<u32>(h);
          store<u32>(h, sum);
          sum += c;
        }
        for (let i = 0; i < n; i++) {
          const k = load<u32>(srcK + (<usize>i << 2));
          const h = hist + (<usize>((k >> shift) & 0xff) << 2);
          const o = load<u32>(h);
          store<u32>(h, o + 1);
          store<u32>(dstK + (<usize>o << 2), k);
          store<i32>(dstI + (<usize>o << 2), load<i32>(srcI + (<usize>i << 2)));
        }
        const tk = srcK; srcK = dstK; dstK = tk;
        const ti = srcI; srcI = dstI; dstI = ti;
      }
    }
    memory.copy(out + (<usize>(r * n) << 2), srcI, <usize>n << 2);
  }
}

/**
 * Index of the first maximum along the middle axis of float32 x `[outer, len, inner]` into out
 * `[outer, inner]` (NaN never counts as greater; a slice of only NaN and −∞ gives 0).
 */
export function argMaxFloat(x: usize, out: usize, outer: i32, len: i32, inner: i32, best: usize): void {
  for (let o = 0; o < outer; o++) {
    if (inner == 1) {
      store<i32>(out + (<usize>o << 2), rowArgMax(x + (<usize>(o * len) << 2), len));
      continue;
    }
    const ob = out + (<usize>(o * inner) << 2);
    for (let j = 0; j < inner; j++) {
      store<f32>(best + (<usize>j << 2), -Infinity);
      store<i32>(ob + (<usize>j << 2), 0);
    }
    for (let a = 0; a < len; a++) {
      const row = x + (<usize>((o * len + a) * inner) << 2);
      const av = i32x4.splat(a);
      let j = 0;
      for (; j + 4 <= inner; j += 4) {
        const at = <usize>j << 2;
        const v = v128.load(row + at);
        const bv = v128.load(best + at);
        const gt = f32x4.gt(v, bv);
        v128.store(best + at, v128.bitselect(v, bv, gt));
        v128.store(ob + at, v128.bitselect(av, v128.load(ob + at), gt));
      }
      for (; j < inner; j++) {
        const at = <usize>j << 2;
        const v = load<f32>(row + at);
        if (v > load<f32>(best + at)) {
          store<f32>(best + at, v);
          store<i32>(ob + at, a);
        }
      }
    }
  }
}

/**
 * Index of the first maximum of every row of `[x, −x]` (x float32 `[rows, len]`, the negated row
 * after the row) into out `[rows]`: `i` where `x[i]` wins, `len + i` where `−x[i]` wins, as
 * `argMaxFloat` over the concatenation (NaN never counts; a row of only NaN gives 0). Values first:
 * the row's largest and smallest value in one pass (NaN skipped), the winner (the first half on a
 * tie), then the first position that holds it.
 */
export function signedArgMaxRows(x: usize, out: usize, rows: i32, len: i32): void {
  for (let o = 0; o < rows; o++) {
    const base = x + (<usize>(o * len) << 2);
    let hi: f32 = -Infinity;
    let lo: f32 = Infinity;
    let a = 0;
    if (len >= 8) {
      // pmax/pmin keep the accumulator when the new lane is NaN (it compares false)
      let h0 = f32x4.splat(-Infinity), h1 = h0;
      let l0 = f32x4.splat(Infinity), l1 = l0;
      for (; a + 8 <= len; a += 8) {
        const v0 = v128.load(base + (<usize>a << 2));
        const v1 = v128.load(base + (<usize>a << 2), 16);
        h0 = f32x4.pmax(h0, v0);
        h1 = f32x4.pmax(h1, v1);
        l0 = f32x4.pmin(l0, v0);
        l1 = f32x4.pmin(l1, v1);
      }
      // across lanes with the same one-instruction forms (the accumulators hold no NaN)
      let h = f32x4.pmax(h0, h1);
      let l = f32x4.pmin(l0, l1);
      h = f32x4.pmax(h, i32x4.shuffle(h, h, 2, 3, 0, 1));
      l = f32x4.pmin(l, i32x4.shuffle(l, l, 2, 3, 0, 1));
      hi = f32x4.extract_lane(f32x4.pmax(h, i32x4.shuffle(h, h, 1, 0, 3, 2)), 0);
      lo = f32x4.extract_lane(f32x4.pmin(l, i32x4.shuffle(l, l, 1, 0, 3, 2)), 0);
    }
    for (; a < len; a++) {
      const v = load<f32>(base + (<usize>a << 2));
      if (v > hi) hi = v;
      if (v < lo) lo = v;
    }
    // −lo wins only when strictly larger (the negated half comes second); a row of only NaN finds
    // no position holding −∞ and gives 0
    const negated = -lo > hi;
    const target = negated ? lo : hi;
    const at = firstEqual(base, len, target);
    store<i32>(out + (<usize>o << 2), at < 0 ? 0 : negated ? len + at : at);
  }
}

/** The first position of the `len` floats at `base` equal to `target` (±0 equal), or −1. */
function firstEqual(base: usize, len: i32, target: f32): i32 {
  const t = f32x4.splat(target);
  let a = 0;
  for (; a + 4 <= len; a += 4) {
    const m = i32x4.bitmask(f32x4.eq(v128.load(base + (<usize>a << 2)), t));
    if (m != 0) return a + ctz<i32>(m);
  }
  for (; a < len; a++) if (load<f32>(base + (<usize>a << 2)) == target) return a;
  return -1;
}

/**
 * Index of the first maximum of the `len` floats at `base` (NaN never counts as greater, so a row
 * without a value above −∞ gives 0).
 */
function rowArgMax(base: usize, len: i32): i32 {
  let b: f32 = -Infinity;
  let bi = 0;
  let a = 0;
  if (len >= 8) {
    // Four lanes, lane l taking positions ≡ l (mod 4), each keeping its first maximum; then the
    // largest lane value, the smallest position on ties (−∞ and NaN never count, so a row without
    // a value above −∞ keeps index 0, as the scalar loop does).
    // Two sets of lanes (positions 8k..8k+3 and 8k+4..8k+7) keep two compare chains in flight.
    let bv = f32x4.splat(-Infinity);
    let biv = i32x4.splat(0);
    let bv2 = f32x4.splat(-Infinity);
    let biv2 = i32x4.splat(0);
    let at = i32x4(0, 1, 2, 3);
    for (; a + 8 <= len; a += 8) {
      const v = v128.load(base + (<usize>a << 2));
      const v2 = v128.load(base + (<usize>a << 2), 16);
      const gt = f32x4.gt(v, bv);
      const gt2 = f32x4.gt(v2, bv2);
      bv = v128.bitselect(v, bv, gt);
      biv = v128.bitselect(at, biv, gt);
      bv2 = v128.bitselect(v2, bv2, gt2);
      biv2 = v128.bitselect(i32x4.add(at, i32x4.splat(4)), biv2, gt2);
      at = i32x4.add(at, i32x4.splat(8));
    }
    if (a + 4 <= len) {
      const v = v128.load(base + (<usize>a << 2));
      const gt = f32x4.gt(v, bv);
      bv = v128.bitselect(v, bv, gt);
      biv = v128.bitselect(at, biv, gt);
      a += 4;
    }
    // Lane-wise, the second set wins with a larger value or an equal one at a smaller position.
    const take = v128.or(f32x4.gt(bv2, bv), v128.and(f32x4.eq(bv2, bv), i32x4.lt_s(biv2, biv)));
    bv = v128.bitselect(bv2, bv, take);
    biv = v128.bitselect(biv2, biv, take);
    b = f32x4.extract_lane(bv, 0);
    bi = i32x4.extract_lane(biv, 0);
    const v1 = f32x4.extract_lane(bv, 1);
    const i1 = i32x4.extract_lane(biv, 1);
    if (v1 > b || (v1 == b && i1 < bi)) {
      b = v1;
      bi = i1;
    }
    const v2 = f32x4.extract_lane(bv, 2);
    const i2 = i32x4.extract_lane(biv, 2);
    if (v2 > b || (v2 == b && i2 < bi)) {
      b = v2;
      bi = i2;
    }
    const v3 = f32x4.extract_lane(bv, 3);
    const i3 = i32x4.extract_lane(biv, 3);
    if (v3 > b || (v3 == b && i3 < bi)) {
      b = v3;
      bi = i3;
    }
  }
  for (; a < len; a++) {
    const v = load<f32>(base + (<usize>a << 2));
    if (v > b) {
      b = v;
      bi = a;
    }
  }
  return bi;
}
