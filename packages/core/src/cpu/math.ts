/**
 * Scalar special functions of the CPU backend, in double precision: the error function (W. J. Cody's
 * rational Chebyshev approximations, relative error below 1e-15 over the whole real line), the exact
 * GELU and its derivative, and round-half-to-even.
 */

// Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23 (1969), as in
// SPECFUN's CALERF. Three intervals: |x| <= 0.46875 (erf directly), 0.46875 < |x| <= 4 and |x| > 4
// (erfc, then erf = 1 - erfc).
const A0 = 3.1611237438705656;
const A1 = 1.13864154151050156e2;
const A2 = 3.77485237685302021e2;
const A3 = 3.20937758913846947e3;
const A4 = 1.85777706184603153e-1;
const B0 = 2.36012909523441209e1;
const B1 = 2.44024637934444173e2;
const B2 = 1.28261652607737228e3;
const B3 = 2.84423683343917062e3;

const C0 = 5.64188496988670089e-1;
const C1 = 8.88314979438837594;
const C2 = 6.61191906371416295e1;
const C3 = 2.98635138197400131e2;
const C4 = 8.8195222124176909e2;
const C5 = 1.71204761263407058e3;
const C6 = 2.05107837782607147e3;
const C7 = 1.23033935479799725e3;
const C8 = 2.15311535474403846e-8;
const D0 = 1.57449261107098347e1;
const D1 = 1.17693950891312499e2;
const D2 = 5.37181101862009858e2;
const D3 = 1.62138957456669019e3;
const D4 = 3.29079923573345963e3;
const D5 = 4.36261909014324716e3;
const D6 = 3.43936767414372164e3;
const D7 = 1.23033935480374942e3;

const P0 = 3.05326634961232344e-1;
const P1 = 3.60344899949804439e-1;
const P2 = 1.25781726111229246e-1;
const P3 = 1.60837851487422766e-2;
const P4 = 6.58749161529837803e-4;
const P5 = 1.63153871373020978e-2;
const Q0 = 2.56852019228982242;
const Q1 = 1.87295284992346725;
const Q2 = 5.27905102951428412e-1;
const Q3 = 6.05183413124413191e-2;
const Q4 = 2.33520497626869185e-3;

/** 1/√π. */
const INV_SQRT_PI = 0.56418958354775628695;
/** Beyond this |x|, erfc(x) underflows to 0 in double precision. */
const ERFC_UNDERFLOW = 26.543;
/** 1/√2. */
const SQRT1_2 = Math.SQRT1_2;
/** 1/√(2π). */
const INV_SQRT_2PI = 0.3989422804014327;

/** erf(x) for |x| <= 0.46875. */
function erfSmall(x: number): number {
  const z = x * x;
  let num = A4 * z;
  let den = z;
  num = (num + A0) * z;
  den = (den + B0) * z;
  num = (num + A1) * z;
  den = (den + B1) * z;
  num = (num + A2) * z;
  den = (den + B2) * z;
  return (x * (num + A3)) / (den + B3);
}

/** exp(−y²) computed without the cancellation of squaring y directly (Cody's split of y). */
function expMinusSquare(y: number): number {
  const ySplit = Math.trunc(y * 16) / 16;
  const del = (y - ySplit) * (y + ySplit);
  return Math.exp(-ySplit * ySplit) * Math.exp(-del);
}

/** erfc(y) for y > 0.46875. */
function erfcPositive(y: number): number {
  if (y >= ERFC_UNDERFLOW) return 0;
  let r: number;
  if (y <= 4) {
    let num = C8 * y;
    let den = y;
    num = (num + C0) * y;
    den = (den + D0) * y;
    num = (num + C1) * y;
    den = (den + D1) * y;
    num = (num + C2) * y;
    den = (den + D2) * y;
    num = (num + C3) * y;
    den = (den + D3) * y;
    num = (num + C4) * y;
    den = (den + D4) * y;
    num = (num + C5) * y;
    den = (den + D5) * y;
    num = (num + C6) * y;
    den = (den + D6) * y;
    r = (num + C7) / (den + D7);
  } else {
    const z = 1 / (y * y);
    let num = P5 * z;
    let den = z;
    num = (num + P0) * z;
    den = (den + Q0) * z;
    num = (num + P1) * z;
    den = (den + Q1) * z;
    num = (num + P2) * z;
    den = (den + Q2) * z;
    num = (num + P3) * z;
    den = (den + Q3) * z;
    r = (z * (num + P4)) / (den + Q4);
    r = (INV_SQRT_PI - r) / y;
  }
  return r * expMinusSquare(y);
}

/** The error function erf(x) = 2/√π ∫₀ˣ e^(−t²) dt, to about 1e-16 relative. */
export function erf(x: number): number {
  const y = Math.abs(x);
  if (y <= 0.46875) return erfSmall(x);
  if (y !== y) return x; // NaN
  const r = 1 - erfcPositive(y);
  return x < 0 ? -r : r;
}

/** The complementary error function erfc(x) = 1 − erf(x), accurate also where it is tiny. */
export function erfc(x: number): number {
  const y = Math.abs(x);
  if (y <= 0.46875) return 1 - erfSmall(x);
  if (y !== y) return x; // NaN
  const r = erfcPositive(y);
  return x < 0 ? 2 - r : r;
}

/** The standard normal CDF Φ(x) = ½·erfc(−x/√2). */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x * SQRT1_2);
}

/** The standard normal density φ(x) = e^(−x²/2)/√(2π). */
export function normalPdf(x: number): number {
  return INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

/** Exact GELU: x·Φ(x) = ½·x·(1 + erf(x/√2)), written with erfc so it stays accurate for x ≪ 0. */
export function gelu(x: number): number {
  if (x === -Infinity) return 0; // the limit (x·Φ(x) would be −∞·0)
  return x * normalCdf(x);
}

/** Derivative of the exact GELU: Φ(x) + x·φ(x). */
export function geluGrad(x: number): number {
  if (x === Infinity) return 1; // the limits (x·φ(x) would be ±∞·0)
  if (x === -Infinity) return 0;
  return normalCdf(x) + x * normalPdf(x);
}

/** Rounds to the nearest integer, ties to even (as NumPy and tfjs do). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  // An exact tie (or ±Infinity / NaN, where diff is NaN): keep the even neighbour.
  return f % 2 === 0 ? f : f + 1;
}
