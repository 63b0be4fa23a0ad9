/**
 * WGSL special functions in float32: erf/erfc (W. J. Cody's rational approximations, evaluated in
 * f32: absolute error of erf below 2e-7 on the whole line; WGSL has no erf, and the short
 * Abramowitz–Stegun formulas are only good to ~1e-7 relative of 1 at best, ~1.5e-7 absolute, with
 * much worse relative error of erfc in the tails), exact GELU and its derivative, a tanh that saturates
 * instead of overflowing, and a pow that follows `Math.pow` for negative bases and zero.
 */
export const MATH_WGSL = /* wgsl */ `
fn erfSmall(x: f32) -> f32 {
  let z = x * x;
  var num = 1.85777706184603153e-1 * z;
  var den = z;
  num = (num + 3.16112374387056560e00) * z;
  den = (den + 2.36012909523441209e01) * z;
  num = (num + 1.13864154151050156e02) * z;
  den = (den + 2.44024637934444173e02) * z;
  num = (num + 3.77485237685302021e02) * z;
  den = (den + 1.28261652607737228e03) * z;
  return (x * (num + 3.20937758913846947e03)) / (den + 2.84423683343917062e03);
}
fn expMinusSquare(y: f32) -> f32 {
  let ys = trunc(y * 16.0) / 16.0;
  let del = (y - ys) * (y + ys);
  return exp(-ys * ys) * exp(-del);
}
// erfc(y) for y > 0.46875.
fn erfcPos(y: f32) -> f32 {
  if (y >= 10.1) { return 0.0; }
  var r: f32;
  if (y <= 4.0) {
    var num = 2.15311535474403846e-8 * y;
    var den = y;
    num = (num + 5.64188496988670089e-1) * y;
    den = (den + 1.57449261107098347e01) * y;
    num = (num + 8.88314979438837594e00) * y;
    den = (den + 1.17693950891312499e02) * y;
    num = (num + 6.61191906371416295e01) * y;
    den = (den + 5.37181101862009858e02) * y;
    num = (num + 2.98635138197400131e02) * y;
    den = (den + 1.62138957456669019e03) * y;
    num = (num + 8.81952221241769090e02) * y;
    den = (den + 3.29079923573345963e03) * y;
    num = (num + 1.71204761263407058e03) * y;
    den = (den + 4.36261909014324716e03) * y;
    num = (num + 2.05107837782607147e03) * y;
    den = (den + 3.43936767414372164e03) * y;
    r = (num + 1.23033935479799725e03) / (den + 1.23033935480374942e03);
  } else {
    let z = 1.0 / (y * y);
    var num = 1.63153871373020978e-2 * z;
    var den = z;
    num = (num + 3.05326634961232344e-1) * z;
    den = (den + 2.56852019228982242e00) * z;
    num = (num + 3.60344899949804439e-1) * z;
    den = (den + 1.87295284992346725e00) * z;
    num = (num + 1.25781726111229246e-1) * z;
    den = (den + 5.27905102951428412e-1) * z;
    num = (num + 1.60837851487422766e-2) * z;
    den = (den + 6.05183413124413191e-2) * z;
    r = (z * (num + 6.58749161529837803e-4)) / (den + 2.33520497626869185e-3);
    r = (0.56418958354775628695 - r) / y;
  }
  return r * expMinusSquare(y);
}
fn erf_(x: f32) -> f32 {
  let y = abs(x);
  if (y <= 0.46875) { return erfSmall(x); }
  let r = 1.0 - erfcPos(y);
  return select(r, -r, x < 0.0);
}
fn erfc_(x: f32) -> f32 {
  let y = abs(x);
  if (y <= 0.46875) { return 1.0 - erfSmall(x); }
  let r = erfcPos(y);
  return select(r, 2.0 - r, x < 0.0);
}
fn normalCdf(x: f32) -> f32 { return 0.5 * erfc_(-x * 0.70710678118654752); }
fn gelu_(x: f32) -> f32 { return x * normalCdf(x); }
fn geluGrad_(x: f32) -> f32 { return normalCdf(x) + x * 0.3989422804014327 * exp(-0.5 * x * x); }
fn tanh_(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  let t = (1.0 - e) / (1.0 + e);
  return select(t, -t, x < 0.0);
}
fn sigmoid_(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
fn pow_(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (a == 0.0) { return select(f32Inf(), 0.0, b > 0.0); }
  if (a < 0.0) {
    if (floor(b) != b) { return f32Nan(); }
    let m = exp2(b * log2(-a));
    let odd = abs(b) < 16777216.0 && (i32(abs(b)) & 1) == 1;
    return select(m, -m, odd);
  }
  return exp2(b * log2(a));
}
fn ipow_(a: i32, b: i32) -> i32 {
  if (b < 0) {
    if (a == 1) { return 1; }
    if (a == -1) { return select(1, -1, (b & 1) != 0); }
    return 0;
  }
  var r: i32 = 1;
  var base = a;
  var e = b;
  loop {
    if (e == 0) { break; }
    if ((e & 1) != 0) { r = r * base; }
    base = base * base;
    e = e >> 1u;
  }
  return r;
}
fn ifloordiv_(a: i32, b: i32) -> i32 {
  if (b == 0) { return 0; }
  if (b == -1) { return -a; }
  let q = a / b;
  return select(q, q - 1, (a % b != 0) && ((a < 0) != (b < 0)));
}
fn imod_(a: i32, b: i32) -> i32 {
  if (b == 0 || b == -1) { return 0; }
  let r = a % b;
  return select(r, r + b, r != 0 && ((r < 0) != (b < 0)));
}
fn fmod_(a: f32, b: f32) -> f32 {
  let r = a - b * floor(a / b);
  return r;
}
`;
