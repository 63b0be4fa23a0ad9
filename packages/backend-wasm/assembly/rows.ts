// Row kernels over the last axis, four lanes at a time: softmax, logsumexp, layer norm forward and
// backward. Semantics of the CPU reference: a row of all −∞ has softmax 0 and logsumexp −∞, +∞ or NaN
// in a row makes logsumexp that value; layer norm uses the biased two-pass variance.
import { exp4, hmax, hsum } from './simd';

/** Largest value of the row (NaN if any is NaN; −∞ for an empty row). */
function rowMax(x: usize, n: i32): f32 {
  let m = f32x4.splat(-Infinity);
  let i = 0;
  for (; i + 4 <= n; i += 4) m = f32x4.max(m, v128.load(x + (<usize>i << 2)));
  let s = hmax(m);
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    s = v != v || s != s ? NaN : max<f32>(s, v);
  }
  return s;
}

/** `Σ exp(x − m)`; when `out` is not 0 the exponentials are stored there. */
function expSum(x: usize, n: i32, m: f32, out: usize): f32 {
  const mv = f32x4.splat(m);
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const e = exp4(f32x4.sub(v128.load(x + (<usize>i << 2)), mv));
    if (out) v128.store(out + (<usize>i << 2), e);
    acc = f32x4.add(acc, e);
  }
  let s = hsum(acc);
  for (; i < n; i++) {
    const e = <f32>Math.exp(<f64>load<f32>(x + (<usize>i << 2)) - <f64>m);
    if (out) store<f32>(out + (<usize>i << 2), e);
    s += e;
  }
  return s;
}

/** Softmax of `rows` rows of `n` floats from x to y. */
export function softmaxRows(x: usize, y: usize, rows: i32, n: i32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>(r * n) << 2);
    const yr = y + (<usize>(r * n) << 2);
    const m = rowMax(xr, n);
    if (m == -Infinity) {
      memory.fill(yr, 0, <usize>n << 2);
      continue;
    }
    const s = expSum(xr, n, m, yr);
    const sv = f32x4.splat(s);
    let i = 0;
    for (; i + 4 <= n; i += 4) v128.store(yr + (<usize>i << 2), f32x4.div(v128.load(yr + (<usize>i << 2)), sv));
    for (; i < n; i++) store<f32>(yr + (<usize>i << 2), load<f32>(yr + (<usize>i << 2)) / s);
  }
}

/** logsumexp of `rows` rows of `n` floats into out[rows]. */
export function logSumExpRows(x: usize, out: usize, rows: i32, n: i32): void {
  for (let r = 0; r < rows; r++) {
    store<f32>(out + (<usize>r << 2), rowLogSumExp(x + (<usize>(r * n) << 2), n));
  }
}

/** logsumexp of one row of `n` floats (−∞, +∞ and NaN rows give that value). */
function rowLogSumExp(x: usize, n: i32): f32 {
  const m = rowMax(x, n);
  if (m == -Infinity || m == Infinity || m != m) return m;
  return <f32>(<f64>m + Math.log(<f64>expSum(x, n, m, 0)));
}

/**
 * Cross-entropy of `rows` rows of `V` logits against int32 `labels` (checked by the host): `lse[r]` is
 * the row's logsumexp, `loss[r] = lse[r] − logits[r, label]`, 0 where the label is `ignoreIndex`.
 */
export function crossEntropyRows(logits: usize, labels: usize, loss: usize, lse: usize, rows: i32, V: i32, ignoreIndex: i32): void {
  for (let r = 0; r < rows; r++) {
    const row = logits + (<usize>r * <usize>V << 2);
    const l = rowLogSumExp(row, V);
    store<f32>(lse + (<usize>r << 2), l);
    const t = load<i32>(labels + (<usize>r << 2));
    store<f32>(loss + (<usize>r << 2), t == ignoreIndex ? 0 : l - load<f32>(row + (<usize>t << 2)));
  }
}

/**
 * Gradient of {@link crossEntropyRows}: `out[r] = dLoss[r] · (exp(logits[r] − lse[r]) − onehot(label))`,
 * zero rows where the label is `ignoreIndex`.
 */
export function crossEntropyBackwardRows(
  logits: usize, labels: usize, lse: usize, dLoss: usize, out: usize, rows: i32, V: i32, ignoreIndex: i32,
): void {
  for (let r = 0; r < rows; r++) {
    const row = logits + (<usize>r * <usize>V << 2);
    const o = out + (<usize>r * <usize>V << 2);
    const t = load<i32>(labels + (<usize>r << 2));
    if (t == ignoreIndex) {
      memory.fill(o, 0, <usize>V << 2);
      continue;
    }
    const l = load<f32>(lse + (<usize>r << 2));
    const d = load<f32>(dLoss + (<usize>r << 2));
    const lv = f32x4.splat(l);
    const dv = f32x4.splat(d);
    let i = 0;
    for (; i + 4 <= V; i += 4) {
      const at = <usize>i << 2;
      v128.store(o + at, f32x4.mul(dv, exp4(f32x4.sub(v128.load(row + at), lv))));
    }
    for (; i < V; i++) {
      const at = <usize>i << 2;
      store<f32>(o + at, d * <f32>Math.exp(<f64>load<f32>(row + at) - <f64>l));
    }
    const at = <usize>t << 2;
    store<f32>(o + at, d * (<f32>Math.exp(<f64>load<f32>(row + at) - <f64>l) - 1));
  }
}

/** Σ of n floats (four lanes, then the tail). */
function rowSum(x: usize, n: i32): f32 {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) acc = f32x4.add(acc, v128.load(x + (<usize>i << 2)));
  let s = hsum(acc);
  for (; i < n; i++) s += load<f32>(x + (<usize>i << 2));
  return s;
}

/**
 * Layer norm of `rows` rows of `n` floats: y = (x − mean)·rstd·gamma + beta with the biased two-pass
 * variance; mean and rstd per row are stored for the backward.
 */
export function layerNormRows(x: usize, gamma: usize, beta: usize, y: usize, mean: usize, rstd: usize, rows: i32, n: i32, eps: f32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>(r * n) << 2);
    const yr = y + (<usize>(r * n) << 2);
    const mu: f32 = rowSum(xr, n) / <f32>n;
    const mv = f32x4.splat(mu);
    let acc = f32x4.splat(0);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const c = f32x4.sub(v128.load(xr + (<usize>i << 2)), mv);
      acc = f32x4.add(acc, f32x4.mul(c, c));
    }
    let sq = hsum(acc);
    for (; i < n; i++) {
      const c = load<f32>(xr + (<usize>i << 2)) - mu;
      sq += c * c;
    }
    const rs = <f32>(1 / Math.sqrt(<f64>sq / <f64>n + <f64>eps));
    const rv = f32x4.splat(rs);
    i = 0;
    for (; i + 4 <= n; i += 4) {
      const at = <usize>i << 2;
      const c = f32x4.mul(f32x4.sub(v128.load(xr + at), mv), rv);
      v128.store(yr + at, f32x4.add(f32x4.mul(c, v128.load(gamma + at)), v128.load(beta + at)));
    }
    for (; i < n; i++) {
      const at = <usize>i << 2;
      store<f32>(yr + at, (load<f32>(xr + at) - mu) * rs * load<f32>(gamma + at) + load<f32>(beta + at));
    }
    store<f32>(mean + (<usize>r << 2), mu);
    store<f32>(rstd + (<usize>r << 2), rs);
  }
}

/**
 * Layer norm backward: with xhat = (x − mean)·rstd and g = dy·gamma,
 * dx = rstd·(g − mean(g) − xhat·mean(g·xhat)); dGamma = Σ_rows dy·xhat and dBeta = Σ_rows dy are
 * summed in doubles (`acc`: 2n doubles of scratch) and rounded once.
 */
export function layerNormBackwardRows(dy: usize, x: usize, gamma: usize, mean: usize, rstd: usize, dx: usize, dGamma: usize, dBeta: usize, rows: i32, n: i32, acc: usize): void {
  memory.fill(acc, 0, <usize>n << 4);
  const accB = acc + (<usize>n << 3);
  for (let r = 0; r < rows; r++) {
    const base = <usize>(r * n) << 2;
    const mu = f32x4.splat(load<f32>(mean + (<usize>r << 2)));
    const rsS = load<f32>(rstd + (<usize>r << 2));
    const rs = f32x4.splat(rsS);
    let sG = f32x4.splat(0);
    let sGX = f32x4.splat(0);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const at = <usize>i << 2;
      const xh = f32x4.mul(f32x4.sub(v128.load(x + base + at), mu), rs);
      const d = v128.load(dy + base + at);
      const g = f32x4.mul(d, v128.load(gamma + at));
      sG = f32x4.add(sG, g);
      sGX = f32x4.add(sGX, f32x4.mul(g, xh));
      const dxh = f32x4.mul(d, xh);
      const a8 = <usize>i << 3;
      v128.store(acc + a8, f64x2.add(v128.load(acc + a8), f64x2.promote_low_f32x4(dxh)));
      v128.store(acc + a8, f64x2.add(v128.load(acc + a8, 16), f64x2.promote_low_f32x4(i32x4.shuffle(dxh, dxh, 2, 3, 0, 1))), 16);
      v128.store(accB + a8, f64x2.add(v128.load(accB + a8), f64x2.promote_low_f32x4(d)));
      v128.store(accB + a8, f64x2.add(v128.load(accB + a8, 16), f64x2.promote_low_f32x4(i32x4.shuffle(d, d, 2, 3, 0, 1))), 16);
    }
    let sumG = hsum(sG);
    let sumGX = hsum(sGX);
    const muS = load<f32>(mean + (<usize>r << 2));
    for (; i < n; i++) {
      const at = <usize>i << 2;
      const xh = (load<f32>(x + base + at) - muS) * rsS;
      const d = load<f32>(dy + base + at);
      const g = d * load<f32>(gamma + at);
      sumG += g;
      sumGX += g * xh;
      const a8 = <usize>i << 3;
      store<f64>(acc + a8, load<f64>(acc + a8) + <f64>(d * xh));
      store<f64>(accB + a8, load<f64>(accB + a8) + <f64>d);
    }
    const mG = f32x4.splat(sumG / <f32>n);
    const mGX = f32x4.splat(sumGX / <f32>n);
    i = 0;
    for (; i + 4 <= n; i += 4) {
      const at = <usize>i << 2;
      const xh = f32x4.mul(f32x4.sub(v128.load(x + base + at), mu), rs);
      const g = f32x4.mul(v128.load(dy + base + at), v128.load(gamma + at));
      v128.store(dx + base + at, f32x4.mul(rs, f32x4.sub(f32x4.sub(g, mG), f32x4.mul(xh, mGX))));
    }
    for (; i < n; i++) {
      const at = <usize>i << 2;
      const xh = (load<f32>(x + base + at) - muS) * rsS;
      const g = load<f32>(dy + base + at) * load<f32>(gamma + at);
      store<f32>(dx + base + at, rsS * (g - sumG / <f32>n - xh * (sumGX / <f32>n)));
    }
  }
  for (let i = 0; i < n; i++) {
    store<f32>(dGamma + (<usize>i << 2), <f32>load<f64>(acc + (<usize>i << 3)));
    store<f32>(dBeta + (<usize>i << 2), <f32>load<f64>(accB + (<usize>i << 3)));
  }
}
