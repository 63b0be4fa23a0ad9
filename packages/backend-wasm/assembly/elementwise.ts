// Element-wise float32 arithmetic with broadcasting, and gather / scatter-add along an axis.
//
// binary2d: out[r, i] = a[r·as0 + i·as1] op b[r·bs0 + i·bs1], with inner strides 0 (broadcast) or 1;
// the host collapses any broadcast to this form. Float32 ops: 0 add, 1 sub, 2 mul, 3 div, 4 maximum,
// 5 minimum (NaN propagates, as Math.max/min). Int32 ops, as the reference computes them: 6 add,
// 7 sub, 8 mul (wrapping), 9 maximum, 10 minimum, 11 floor division (x / 0 gives 0), 12 floor modulo
// (the divisor's sign; x mod 0 gives 0).

// @ts-ignore: decorator
@inline function apply4(op: i32, x: v128, y: v128): v128 {
  switch (op) {
    case 0: return f32x4.add(x, y);
    case 1: return f32x4.sub(x, y);
    case 2: return f32x4.mul(x, y);
    case 3: return f32x4.div(x, y);
    case 4: return f32x4.max(x, y);
    default: return f32x4.min(x, y);
  }
}

// @ts-ignore: decorator
@inline function apply1(op: i32, x: f32, y: f32): f32 {
  switch (op) {
    case 0: return x + y;
    case 1: return x - y;
    case 2: return x * y;
    case 3: return x / y;
    case 4: return x != x || y != y ? NaN : max<f32>(x, y);
    default: return x != x || y != y ? NaN : min<f32>(x, y);
  }
}

function row(op: i32, a: usize, as1: i32, b: usize, bs1: i32, out: usize, n: i32): void {
  let i = 0;
  if (as1 == 1 && bs1 == 1) {
    for (; i + 4 <= n; i += 4) {
      const at = <usize>i << 2;
      v128.store(out + at, apply4(op, v128.load(a + at), v128.load(b + at)));
    }
  } else if (as1 == 1) {
    const y = v128.load32_splat(b);
    for (; i + 4 <= n; i += 4) {
      const at = <usize>i << 2;
      v128.store(out + at, apply4(op, v128.load(a + at), y));
    }
  } else if (bs1 == 1) {
    const x = v128.load32_splat(a);
    for (; i + 4 <= n; i += 4) {
      const at = <usize>i << 2;
      v128.store(out + at, apply4(op, x, v128.load(b + at)));
    }
  }
  for (; i < n; i++) {
    store<f32>(out + (<usize>i << 2), apply1(op, load<f32>(a + (<usize>(i * as1) << 2)), load<f32>(b + (<usize>(i * bs1) << 2))));
  }
}

export function binary2d(op: i32, a: usize, as0: i32, as1: i32, b: usize, bs0: i32, bs1: i32, out: usize, d0: i32, d1: i32): void {
  for (let r = 0; r < d0; r++) {
    const ar = a + (<usize>(r * as0) << 2);
    const br = b + (<usize>(r * bs0) << 2);
    const or = out + (<usize>(r * d1) << 2);
    if (op >= 6) rowInt(op, ar, as1, br, bs1, or, d1);
    else row(op, ar, as1, br, bs1, or, d1);
  }
}

// @ts-ignore: decorator
@inline function applyInt4(op: i32, x: v128, y: v128): v128 {
  switch (op) {
    case 6: return i32x4.add(x, y);
    case 7: return i32x4.sub(x, y);
    case 8: return i32x4.mul(x, y);
    case 9: return i32x4.max_s(x, y);
    default: return i32x4.min_s(x, y);
  }
}

/** One int32 element: as the reference (`| 0`, `Math.imul`, `Math.floor(x / y) | 0`, floor modulo). */
// @ts-ignore: decorator
@inline function applyInt1(op: i32, x: i32, y: i32): i32 {
  switch (op) {
    case 6: return x + y;
    case 7: return x - y;
    case 8: return x * y;
    case 9: return max<i32>(x, y);
    case 10: return min<i32>(x, y);
    case 11:
      // the double quotient floored, as the reference (|x / y| <= 2^31: wraps like `| 0`)
      return y == 0 ? 0 : <i32><i64>Math.floor(<f64>x / <f64>y);
    default: {
      if (y == 0) return 0;
      const r = x % y; // rem_s: INT_MIN % −1 is 0, no trap
      return r != 0 && (r < 0) != (y < 0) ? r + y : r;
    }
  }
}

function rowInt(op: i32, a: usize, as1: i32, b: usize, bs1: i32, out: usize, n: i32): void {
  let i = 0;
  if (op <= 10) {
    if (as1 == 1 && bs1 == 1) {
      for (; i + 4 <= n; i += 4) {
        const at = <usize>i << 2;
        v128.store(out + at, applyInt4(op, v128.load(a + at), v128.load(b + at)));
      }
    } else if (as1 == 1) {
      const y = v128.load32_splat(b);
      for (; i + 4 <= n; i += 4) {
        const at = <usize>i << 2;
        v128.store(out + at, applyInt4(op, v128.load(a + at), y));
      }
    } else if (bs1 == 1) {
      const x = v128.load32_splat(a);
      for (; i + 4 <= n; i += 4) {
        const at = <usize>i << 2;
        v128.store(out + at, applyInt4(op, x, v128.load(b + at)));
      }
    }
  }
  for (; i < n; i++) {
    store<i32>(out + (<usize>i << 2), applyInt1(op, load<i32>(a + (<usize>(i * as1) << 2)), load<i32>(b + (<usize>(i * bs1) << 2))));
  }
}

/** out[p, j, :] = x[p, idx[p, j], :] (4-byte elements, `inner` per block; indices already checked). */
export function gatherBlocks(x: usize, idx: usize, out: usize, outer: i32, size: i32, n: i32, inner: i32): void {
  for (let p = 0; p < outer; p++) {
    for (let j = 0; j < n; j++) {
      const k = load<i32>(idx + (<usize>(p * n + j) << 2));
      const dst = out + (<usize>((p * n + j) * inner) << 2);
      const src = x + (<usize>((p * size + k) * inner) << 2);
      if (inner == 1) store<i32>(dst, load<i32>(src));
      else memory.copy(dst, src, <usize>inner << 2);
    }
  }
}

/**
 * Float32 scatter-add: out (`outer × size × inner`) = 0 plus updates[p, j, :] at idx[p, j], summed in
 * doubles in `acc` (the same order as the reference, so the result is identical) and rounded once.
 */
export function scatterAddBlocks(upd: usize, idx: usize, out: usize, acc: usize, outer: i32, n: i32, size: i32, inner: i32): void {
  const total = <usize>outer * <usize>size * <usize>inner;
  memory.fill(acc, 0, total << 3);
  for (let p = 0; p < outer; p++) {
    for (let j = 0; j < n; j++) {
      const k = load<i32>(idx + (<usize>(p * n + j) << 2));
      addRowToDoubles(upd + (<usize>((p * n + j) * inner) << 2), acc + (<usize>((p * size + k) * inner) << 3), inner);
    }
  }
  roundDoubles(acc, out, total);
}

/** `dst[r] += src[r]` for `inner` floats added into doubles (two lanes at a time, exact as one by one). */
function addRowToDoubles(src: usize, dst: usize, inner: i32): void {
  let r = 0;
  for (; r + 4 <= inner; r += 4) {
    const x = v128.load(src + (<usize>r << 2));
    const d = dst + (<usize>r << 3);
    v128.store(d, f64x2.add(v128.load(d), f64x2.promote_low_f32x4(x)));
    v128.store(d, f64x2.add(v128.load(d, 16), f64x2.promote_low_f32x4(i32x4.shuffle(x, x, 2, 3, 0, 1))), 16);
  }
  for (; r < inner; r++) {
    const d = dst + (<usize>r << 3);
    store<f64>(d, load<f64>(d) + <f64>load<f32>(src + (<usize>r << 2)));
  }
}

/** `out[i] = f32(acc[i])` for `count` doubles (rounded to nearest, as one by one). */
function roundDoubles(acc: usize, out: usize, count: usize): void {
  let i: usize = 0;
  for (; i + 4 <= count; i += 4) {
    const lo = f32x4.demote_f64x2_zero(v128.load(acc + (i << 3)));
    const hi = f32x4.demote_f64x2_zero(v128.load(acc + (i << 3), 16));
    v128.store(out + (i << 2), i32x4.shuffle(lo, hi, 0, 1, 4, 5));
  }
  for (; i < count; i++) store<f32>(out + (i << 2), <f32>load<f64>(acc + (i << 3)));
}

/**
 * Output rows `[k0, k1)` (of every outer block) of {@link scatterAddBlocks}, for threads: each thread
 * reads every index and adds the updates that land in its rows, in the same order as the whole
 * kernel, so any split over rows gives the same bits. `acc` covers the whole output (threads touch
 * disjoint rows of it).
 */
export function scatterAddRowRange(upd: usize, idx: usize, out: usize, acc: usize, outer: i32, n: i32, size: i32, inner: i32, k0: i32, k1: i32): void {
  const span = <usize>(k1 - k0) * <usize>inner;
  for (let p = 0; p < outer; p++) {
    const first = <usize>(p * size + k0) * <usize>inner;
    memory.fill(acc + (first << 3), 0, span << 3);
    for (let j = 0; j < n; j++) {
      const k = load<i32>(idx + (<usize>(p * n + j) << 2));
      if (k < k0 || k >= k1) continue;
      addRowToDoubles(upd + (<usize>((p * n + j) * inner) << 2), acc + (<usize>((p * size + k) * inner) << 3), inner);
    }
    roundDoubles(acc + (first << 3), out + (first << 2), span);
  }
}

/**
 * Float32 unary ops that round exactly as the reference: 0 neg, 1 abs, 2 sqrt, 3 square,
 * 4 reciprocal, 5 floor, 6 ceil, 7 round (half to even; a nonzero value rounding to zero gives +0),
 * 8 relu (x < 0 ? 0 : x; NaN and −0 kept).
 */
export function unaryFloat(op: i32, x: usize, out: usize, n: i32): void {
  const zero = f32x4.splat(0);
  const one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i << 2;
    const v = v128.load(x + at);
    let r: v128;
    switch (op) {
      case 0: r = f32x4.neg(v); break;
      case 1: r = f32x4.abs(v); break;
      case 2: r = f32x4.sqrt(v); break;
      case 3: r = f32x4.mul(v, v); break;
      case 4: r = f32x4.div(one, v); break;
      case 5: r = f32x4.floor(v); break;
      case 6: r = f32x4.ceil(v); break;
      case 7: {
        // Like the reference, a nonzero value that rounds to zero gives +0 (only −0 stays −0).
        r = f32x4.nearest(v);
        r = v128.bitselect(zero, r, v128.and(f32x4.eq(r, zero), f32x4.ne(v, zero)));
        break;
      }
      default: r = v128.bitselect(zero, v, f32x4.lt(v, zero));
    }
    v128.store(out + at, r);
  }
  for (; i < n; i++) {
    const at = <usize>i << 2;
    const v = load<f32>(x + at);
    let r: f32;
    switch (op) {
      case 0: r = -v; break;
      case 1: r = abs<f32>(v); break;
      case 2: r = sqrt<f32>(v); break;
      case 3: r = v * v; break;
      case 4: r = 1 / v; break;
      case 5: r = floor<f32>(v); break;
      case 6: r = ceil<f32>(v); break;
      case 7: r = nearest<f32>(v); if (r == 0 && v != 0) r = 0; break;
      default: r = v < 0 ? 0 : v;
    }
    store<f32>(out + at, r);
  }
}

/** `dy · (x > 0 ? 1 : 0)`, the reference's relu backward (NaN·0 stays NaN). */
export function reluBackward(x: usize, dy: usize, out: usize, n: i32): void {
  const zero = f32x4.splat(0);
  const one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = <usize>i << 2;
    const mask = v128.bitselect(one, zero, f32x4.gt(v128.load(x + at), zero));
    v128.store(out + at, f32x4.mul(v128.load(dy + at), mask));
  }
  for (; i < n; i++) {
    const at = <usize>i << 2;
    store<f32>(out + at, load<f32>(dy + at) * (load<f32>(x + at) > 0 ? <f32>1 : <f32>0));
  }
}

/**
 * Float32 sum over the middle axis of x `[outer, r, inner]` into out `[outer, inner]`, in doubles in
 * the reference's order (row by row), rounded once; `acc` holds `min(inner, SUM_BLOCK)` doubles.
 */
export function reduceSum(x: usize, out: usize, acc: usize, outer: i32, r: i32, inner: i32): void {
  if (inner == 1) {
    for (let o = 0; o < outer; o++) {
      const base = x + (<usize>(o * r) << 2);
      let s: f64 = 0;
      for (let j = 0; j < r; j++) s += <f64>load<f32>(base + (<usize>j << 2));
      store<f32>(out + (<usize>o << 2), <f32>s);
    }
    return;
  }
  reduceSumColumns(x, out, outer, r, inner, 0, inner, acc);
}

/** Columns summed together (8 KiB of doubles: they stay in the L1 cache while all r rows are added). */
const SUM_BLOCK: i32 = 1024;

/** {@link reduceSum} with the scratch last (how the thread pool passes each thread its own): outer blocks on threads. */
export function reduceSumRange(x: usize, out: usize, outer: i32, r: i32, inner: i32, acc: usize): void {
  reduceSum(x, out, acc, outer, r, inner);
}

/**
 * Columns `[c0, c1)` of {@link reduceSum} (for threads when the outer size is small): each element is
 * summed over the same rows in the same order, in doubles, so any split over columns gives the same bits.
 * `acc` holds `min(c1 − c0, SUM_BLOCK)` doubles.
 */
export function reduceSumColumns(x: usize, out: usize, outer: i32, r: i32, inner: i32, c0: i32, c1: i32, acc: usize): void {
  for (let b0 = c0; b0 < c1; b0 += SUM_BLOCK) {
    const w = min(c1 - b0, SUM_BLOCK);
    for (let o = 0; o < outer; o++) {
      memory.fill(acc, 0, <usize>w << 3);
      for (let j = 0; j < r; j++) addRowToDoubles(x + (<usize>((o * r + j) * inner + b0) << 2), acc, w);
      roundDoubles(acc, out + (<usize>(o * inner + b0) << 2), w);
    }
  }
}
