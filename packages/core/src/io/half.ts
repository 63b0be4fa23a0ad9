/**
 * Bit-level conversions from 16-bit floating-point formats to float32.
 *
 * Both functions return the IEEE 754 binary32 bit pattern (as an unsigned 32-bit integer) of the
 * exactly equal float32 value; every binary16 and bfloat16 value is exactly representable in
 * binary32, so no rounding happens. NaN payloads and the sign of zero are preserved.
 *
 * @module
 */

/**
 * Converts the bits of an IEEE 754 binary16 (half precision, "F16") value to the bits of the equal
 * binary32 value. Handles zeros, subnormals (down to 2^-24), normals, infinities and NaN.
 *
 * @param h - the 16-bit pattern, 0..0xffff.
 * @returns the 32-bit pattern, 0..0xffffffff.
 */
export function float16BitsToFloat32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) {
    // Infinity (mant = 0) or NaN (payload kept, shifted into the top of the float32 mantissa).
    return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  }
  if (exp === 0) {
    if (mant === 0) return sign >>> 0; // ±0
    // Subnormal: value = mant * 2^-24. Normalise so that the implicit leading 1 is bit 10.
    let shift = 0;
    while ((mant & 0x400) === 0) {
      mant <<= 1;
      shift++;
    }
    mant &= 0x3ff;
    // Unbiased exponent is -14 - shift; float32 bias is 127.
    return (sign | ((113 - shift) << 23) | (mant << 13)) >>> 0;
  }
  // Normal: rebias the exponent from 15 to 127.
  return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
}

/**
 * Converts the bits of a bfloat16 ("BF16") value to the bits of the equal binary32 value. bfloat16
 * is the top half of a binary32, so this is a 16-bit left shift.
 *
 * @param b - the 16-bit pattern, 0..0xffff.
 * @returns the 32-bit pattern, 0..0xffffffff.
 */
export function bfloat16BitsToFloat32Bits(b: number): number {
  return ((b & 0xffff) << 16) >>> 0;
}
