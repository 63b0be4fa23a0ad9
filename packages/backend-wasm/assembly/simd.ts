// Vector helpers shared by the kernels. `ASC_FEATURE_RELAXED_SIMD` is a compile-time constant: the
// build compiles this source twice, with and without the relaxed-simd feature, and the loader picks
// the variant the engine validates.

/** `a·b + c` on four lanes: one fused multiply-add with relaxed SIMD, a multiply and an add without. */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** Sum of the four lanes, pairwise: (l0 + l2) + (l1 + l3). */
// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  const s = f32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}

/** Largest of the four lanes (NaN propagates). */
// @ts-ignore: decorator
@inline export function hmax(v: v128): f32 {
  const m = f32x4.max(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return max<f32>(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1));
}

/**
 * `exp(x)` on four lanes (Cephes' single-precision polynomial after reduction by ln 2; about 1 ulp on
 * [-87, 88]). Lanes below −87.33 give exactly 0 (as float32 exp underflows), lanes above 88.37 give
 * +Infinity, NaN gives NaN.
 */
// @ts-ignore: decorator
@inline export function exp4(x: v128): v128 {
  const hi = f32x4.splat(88.37626);
  const lo = f32x4.splat(-87.33654);
  // pmin/pmax are one instruction each on x86 (min/max with NaN rules are several); a NaN lane stays
  // NaN through both and through the polynomial.
  const xc = f32x4.pmax(f32x4.pmin(x, hi), lo);
  // n = round-half-even(xc·log2 e) by the 1.5·2^23 shift (the product rounded first, as `nearest` of
  // it would be): the sum's low mantissa bits hold n as an integer (|n| <= 128), so 2^n is built from
  // them without a float-to-int conversion.
  const shifted = f32x4.add(f32x4.mul(xc, f32x4.splat(1.44269504088896341)), f32x4.splat(EXP_SHIFT));
  const n = f32x4.sub(shifted, f32x4.splat(EXP_SHIFT));
  let r = madd(n, f32x4.splat(-0.693359375), xc);
  r = madd(n, f32x4.splat(2.12194440e-4), r);
  let p = f32x4.splat(1.9875691500e-4);
  p = madd(p, r, f32x4.splat(1.3981999507e-3));
  p = madd(p, r, f32x4.splat(8.3334519073e-3));
  p = madd(p, r, f32x4.splat(4.1665795894e-2));
  p = madd(p, r, f32x4.splat(1.6666665459e-1));
  p = madd(p, r, f32x4.splat(5.0000001201e-1));
  p = madd(p, f32x4.mul(r, r), f32x4.add(r, f32x4.splat(1.0)));
  const pow2 = i32x4.shl(i32x4.add(shifted, i32x4.splat(127 - EXP_SHIFT_BITS)), 23);
  let y = f32x4.mul(p, pow2);
  y = v128.andnot(y, f32x4.lt(x, lo)); // underflow: exactly 0
  y = v128.bitselect(f32x4.splat(Infinity), y, f32x4.gt(x, hi)); // overflow: +Infinity
  return y;
}

/** 1.5·2^23: adding it rounds a float of magnitude below 2^22 to an integer (half to even). */
const EXP_SHIFT: f32 = 12582912.0;
/** The bits of {@link EXP_SHIFT}; the bits of `EXP_SHIFT + n` are these plus n. */
const EXP_SHIFT_BITS: i32 = 0x4b400000;
