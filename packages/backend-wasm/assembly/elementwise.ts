// Element-wise float32 arithmetic with broadcasting, and gather / scatter-add along an axis.
//
// binary2d: out[r, i] = a[r·as0 + i·as1] op b[r·bs0 + i·bs1], with inner strides 0 (broadcast) or 1;
// the host collapses any broadcast to this form. Ops: 0 add, 1 sub, 2 mul, 3 div, 4 maximum,
// 5 minimum (NaN propagates, as Math.max/min).

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
    row(op, a + (<usize>(r * as0) << 2), as1, b + (<usize>(r * bs0) << 2), bs1, out + (<usize>(r * d1) << 2), d1);
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
      const dst = acc + (<usize>((p * size + k) * inner) << 3);
      const src = upd + (<usize>((p * n + j) * inner) << 2);
      for (let r = 0; r < inner; r++) {
        const d = dst + (<usize>r << 3);
        store<f64>(d, load<f64>(d) + <f64>load<f32>(src + (<usize>r << 2)));
      }
    }
  }
  for (let i: usize = 0; i < total; i++) store<f32>(out + (i << 2), <f32>load<f64>(acc + (i << 3)));
}
