/**
 * Brute-force oracles: every kernel written again, plainly, as nested loops over float64 host arrays.
 * Nothing here calls the library's ops or kernels; the definitions follow the Backend contract
 * (`backend.ts`) and NumPy / PyTorch semantics. They are slow and obviously correct on purpose.
 */
import { isCompareOp, type ArithmeticOp, type CompareOp, type ReduceOp, type UnaryOp } from '../backend.js';
import { sizeOf, stridesOf, type DType } from '../types.js';

export { sizeOf, stridesOf };

/** A tensor on the host: shape, dtype and float64 values (integers for int32). */
export interface HostTensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly data: Float64Array;
}

/** Builds a host tensor (checks the element count). */
export function hostTensor(shape: readonly number[], dtype: DType, data: Float64Array): HostTensor {
  if (data.length !== sizeOf(shape)) throw new Error(`hostTensor: ${data.length} values for shape [${shape.join(', ')}]`);
  return { shape: [...shape], dtype, data };
}

/** The multi-index of flat position `flat` in `shape`. */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i]!;
    idx[i] = flat % d;
    flat = Math.floor(flat / d);
  }
  return idx;
}

/** The flat position of a multi-index. */
export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let flat = 0;
  for (let i = 0; i < shape.length; i++) flat = flat * shape[i]! + idx[i]!;
  return flat;
}

/** The NumPy broadcast of two shapes (throws when incompatible). */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`broadcastShape: [${a}] vs [${b}]`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Flat position in a (possibly smaller, broadcast) input of the output multi-index `idx`. */
export function broadcastIndex(idx: readonly number[], inShape: readonly number[]): number {
  const offset = idx.length - inShape.length;
  let flat = 0;
  for (let i = 0; i < inShape.length; i++) {
    const d = inShape[i]!;
    flat = flat * d + (d === 1 ? 0 : idx[offset + i]!);
  }
  return flat;
}

/** Converts a float64 value to what an element of `dtype` holds (int32 wraps like `| 0`). */
function toDType(v: number, dtype: DType): number {
  return dtype === 'int32' ? v | 0 : v;
}

// ---------------------------------------------------------------------------------------------
// Scalar functions
// ---------------------------------------------------------------------------------------------

/** erf(x) in float64 to ~1e-13: Maclaurin series for |x| < 3, continued fraction of erfc beyond. */
export function erf64(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    // erf(x) = 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))) (Lentz)
  const tiny = 1e-300;
  let f = ax;
  let c = ax;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const an = n / 2;
    d = ax + an * d;
    d = d === 0 ? tiny : 1 / d;
    c = ax + an / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** Round half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  if (Math.abs(x - Math.trunc(x)) === 0.5) return 2 * Math.round(x / 2);
  return r;
}

/** The exact GELU x·Φ(x). */
export function gelu64(x: number): number {
  return 0.5 * x * (1 + erf64(x / Math.SQRT2));
}

/** d/dx of the exact GELU: Φ(x) + x·φ(x). */
export function geluGrad64(x: number): number {
  return 0.5 * (1 + erf64(x / Math.SQRT2)) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
}

/** One unary op on one value. */
export function unaryScalar(op: UnaryOp, x: number): number {
  switch (op) {
    case 'neg':
      return -x;
    case 'abs':
      return Math.abs(x);
    case 'sign':
      return x > 0 ? 1 : x < 0 ? -1 : 0;
    case 'exp':
      return Math.exp(x);
    case 'log':
      return Math.log(x);
    case 'sqrt':
      return Math.sqrt(x);
    case 'rsqrt':
      return 1 / Math.sqrt(x);
    case 'square':
      return x * x;
    case 'reciprocal':
      return 1 / x;
    case 'tanh':
      return Math.tanh(x);
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
    case 'erf':
      return erf64(x);
    case 'sin':
      return Math.sin(x);
    case 'cos':
      return Math.cos(x);
    case 'floor':
      return Math.floor(x);
    case 'ceil':
      return Math.ceil(x);
    case 'round':
      return roundHalfEven(x);
    case 'relu':
      return x > 0 ? x : 0;
    case 'gelu':
      return gelu64(x);
  }
}

/** One binary op on two values of `dtype` (int32 arithmetic wraps; int32 division floors). */
export function binaryScalar(op: ArithmeticOp | CompareOp, a: number, b: number, dtype: DType): number {
  switch (op) {
    case 'add':
      return toDType(a + b, dtype);
    case 'sub':
      return toDType(a - b, dtype);
    case 'mul':
      return dtype === 'int32' ? Math.imul(a, b) : a * b;
    case 'div':
      return dtype === 'int32' ? toDType(Math.floor(a / b), dtype) : a / b;
    case 'pow':
      return toDType(Math.pow(a, b), dtype);
    case 'maximum':
      return Math.max(a, b);
    case 'minimum':
      return Math.min(a, b);
    case 'mod':
      // Python: the result has the sign of the divisor.
      return toDType(a - Math.floor(a / b) * b, dtype);
    case 'floorDiv':
      return toDType(Math.floor(a / b), dtype);
    case 'equal':
      return a === b ? 1 : 0;
    case 'notEqual':
      return a !== b ? 1 : 0;
    case 'less':
      return a < b ? 1 : 0;
    case 'lessEqual':
      return a <= b ? 1 : 0;
    case 'greater':
      return a > b ? 1 : 0;
    case 'greaterEqual':
      return a >= b ? 1 : 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Element-wise
// ---------------------------------------------------------------------------------------------

/** A unary op element by element. */
export function unaryRef(op: UnaryOp, x: HostTensor): HostTensor {
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < out.length; i++) out[i] = toDType(unaryScalar(op, x.data[i]!), x.dtype);
  return hostTensor(x.shape, x.dtype, out);
}

/** A binary op with NumPy broadcasting; comparisons give int32. */
export function binaryRef(op: ArithmeticOp | CompareOp, a: HostTensor, b: HostTensor): HostTensor {
  const shape = broadcastShape(a.shape, b.shape);
  const n = sizeOf(shape);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, shape);
    out[i] = binaryScalar(op, a.data[broadcastIndex(idx, a.shape)]!, b.data[broadcastIndex(idx, b.shape)]!, a.dtype);
  }
  return hostTensor(shape, isCompareOp(op) ? 'int32' : a.dtype, out);
}

/** `cond ? a : b` with three-way broadcasting. */
export function whereRef(cond: HostTensor, a: HostTensor, b: HostTensor): HostTensor {
  const shape = broadcastShape(broadcastShape(cond.shape, a.shape), b.shape);
  const n = sizeOf(shape);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, shape);
    out[i] =
      cond.data[broadcastIndex(idx, cond.shape)]! !== 0 ? a.data[broadcastIndex(idx, a.shape)]! : b.data[broadcastIndex(idx, b.shape)]!;
  }
  return hostTensor(shape, a.dtype, out);
}

/** dtype conversion: float → int truncates toward zero; int → float is exact for small ints. */
export function castRef(x: HostTensor, dtype: DType): HostTensor {
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < out.length; i++) out[i] = dtype === 'int32' ? Math.trunc(x.data[i]!) : Math.fround(x.data[i]!);
  return hostTensor(x.shape, dtype, out);
}

// ---------------------------------------------------------------------------------------------
// Reductions
// ---------------------------------------------------------------------------------------------

/** Normalises a list of possibly negative axes (undefined: all), sorted and distinct. */
export function axesOf(axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  return [...new Set(list.map((a) => (a < 0 ? a + rank : a)))].sort((p, q) => p - q);
}

/** sum / max / min over `axes`, optionally keeping them as size-1 axes. */
export function reduceRef(op: ReduceOp, x: HostTensor, axes?: number | readonly number[], keepDims = false): HostTensor {
  const ax = axesOf(axes, x.shape.length);
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const n = sizeOf(kept);
  const out = new Float64Array(n).fill(op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity);
  for (let i = 0; i < x.data.length; i++) {
    const idx = unravel(i, x.shape);
    const o = broadcastIndex(idx, kept);
    const v = x.data[i]!;
    if (op === 'sum') out[o] = out[o]! + v;
    else if (op === 'max') out[o] = Math.max(out[o]!, v);
    else out[o] = Math.min(out[o]!, v);
  }
  if (x.dtype === 'int32') for (let i = 0; i < n; i++) out[i] = out[i]! | 0;
  const shape = keepDims ? kept : x.shape.filter((_, i) => !ax.includes(i));
  return hostTensor(shape, x.dtype, out);
}

/** Mean over `axes`. */
export function meanRef(x: HostTensor, axes?: number | readonly number[], keepDims = false): HostTensor {
  const ax = axesOf(axes, x.shape.length);
  const count = ax.reduce((c, a) => c * x.shape[a]!, 1);
  const s = reduceRef('sum', x, axes, keepDims);
  return hostTensor(
    s.shape,
    'float32',
    s.data.map((v) => v / count),
  );
}

/** Index of the first maximum along `axis` (removed), int32. */
export function argMaxRef(x: HostTensor, axis: number): HostTensor {
  const ax = axis < 0 ? axis + x.shape.length : axis;
  const outShape = x.shape.filter((_, i) => i !== ax);
  const n = sizeOf(outShape);
  const out = new Float64Array(n);
  const len = x.shape[ax]!;
  for (let o = 0; o < n; o++) {
    const oi = unravel(o, outShape);
    let best = -Infinity;
    let bestJ = 0;
    for (let j = 0; j < len; j++) {
      const idx = [...oi.slice(0, ax), j, ...oi.slice(ax)];
      const v = x.data[ravel(idx, x.shape)]!;
      if (v > best) {
        best = v;
        bestJ = j;
      }
    }
    out[o] = bestJ;
  }
  return hostTensor(outShape, 'int32', out);
}

/** `argMax` of `[x, −x]` (concatenated along the last axis) over that axis, int32. */
export function signedArgMaxRef(x: HostTensor): HostTensor {
  const last = x.shape.length - 1;
  return argMaxRef(concatRef([x, unaryRef('neg', x)], last), last);
}

/** Stable ascending argsort along `axis` (ties keep their original order). */
export function argSortRef(x: HostTensor, axis: number): HostTensor {
  const ax = axis < 0 ? axis + x.shape.length : axis;
  const out = new Float64Array(x.data.length);
  const len = x.shape[ax]!;
  const outer = x.shape.filter((_, i) => i !== ax);
  const m = sizeOf(outer);
  for (let o = 0; o < m; o++) {
    const oi = unravel(o, outer);
    const flat = (j: number) => ravel([...oi.slice(0, ax), j, ...oi.slice(ax)], x.shape);
    // Insertion sort: plainly stable.
    const order: number[] = [];
    for (let j = 0; j < len; j++) {
      let p = order.length;
      while (p > 0 && x.data[flat(order[p - 1]!)]! > x.data[flat(j)]!) p--;
      order.splice(p, 0, j);
    }
    for (let j = 0; j < len; j++) out[flat(j)] = order[j]!;
  }
  return hostTensor(x.shape, 'int32', out);
}

// ---------------------------------------------------------------------------------------------
// Matmul
// ---------------------------------------------------------------------------------------------

/** Batched matmul with transpose flags and broadcast batch axes. `abs`: Σ|a||b| (error scale). */
export function matmulRef(a: HostTensor, b: HostTensor, transposeA: boolean, transposeB: boolean, abs = false): HostTensor {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  const batch = broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const nb = sizeOf(batch);
  const out = new Float64Array(nb * m * n);
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const aMat = a.shape[ra - 2]! * a.shape[ra - 1]!;
  const bMat = b.shape[rb - 2]! * b.shape[rb - 1]!;
  for (let t = 0; t < nb; t++) {
    const bi = unravel(t, batch);
    const ao = broadcastIndex(bi, aBatch) * aMat;
    const bo = broadcastIndex(bi, bBatch) * bMat;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const av = a.data[ao + (transposeA ? p * m + i : i * k + p)]!;
          const bv = b.data[bo + (transposeB ? j * k + p : p * n + j)]!;
          s += abs ? Math.abs(av * bv) : av * bv;
        }
        out[(t * m + i) * n + j] = s;
      }
    }
  }
  return hostTensor([...batch, m, n], a.dtype, out);
}

// ---------------------------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------------------------

/** The same values under another shape. */
export function reshapeRef(x: HostTensor, shape: readonly number[]): HostTensor {
  return hostTensor(shape, x.dtype, x.data.slice());
}

/** Output axis i is input axis perm[i]. */
export function transposeRef(x: HostTensor, perm: readonly number[]): HostTensor {
  const shape = perm.map((p) => x.shape[p]!);
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < out.length; i++) {
    const oi = unravel(i, shape);
    const ii = new Array<number>(perm.length);
    perm.forEach((p, j) => (ii[p] = oi[j]!));
    out[i] = x.data[ravel(ii, x.shape)]!;
  }
  return hostTensor(shape, x.dtype, out);
}

/** The box begin..begin+size. */
export function sliceRef(x: HostTensor, begin: readonly number[], size: readonly number[]): HostTensor {
  const n = sizeOf(size);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const oi = unravel(i, size);
    out[i] =
      x.data[
        ravel(
          oi.map((v, j) => v + begin[j]!),
          x.shape,
        )
      ]!;
  }
  return hostTensor(size, x.dtype, out);
}

/** Joins along `axis`. */
export function concatRef(xs: readonly HostTensor[], axis: number): HostTensor {
  const first = xs[0]!;
  const ax = axis < 0 ? axis + first.shape.length : axis;
  const shape = first.shape.map((d, i) => (i === ax ? xs.reduce((s, x) => s + x.shape[ax]!, 0) : d));
  const out = new Float64Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) {
    const oi = unravel(i, shape);
    let pos = oi[ax]!;
    for (const x of xs) {
      const len = x.shape[ax]!;
      if (pos < len) {
        const ii = [...oi];
        ii[ax] = pos;
        out[i] = x.data[ravel(ii, x.shape)]!;
        break;
      }
      pos -= len;
    }
  }
  return hostTensor(shape, first.dtype, out);
}

/** Pads with `value`. */
export function padRef(x: HostTensor, paddings: readonly (readonly [number, number])[], value: number): HostTensor {
  const shape = x.shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]);
  const out = new Float64Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) {
    const oi = unravel(i, shape);
    const ii = oi.map((v, j) => v - paddings[j]![0]);
    const inside = ii.every((v, j) => v >= 0 && v < x.shape[j]!);
    out[i] = inside ? x.data[ravel(ii, x.shape)]! : value;
  }
  return hostTensor(shape, x.dtype, out);
}

/** Broadcasts to `shape`. */
export function broadcastToRef(x: HostTensor, shape: readonly number[]): HostTensor {
  const out = new Float64Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) out[i] = x.data[broadcastIndex(unravel(i, shape), x.shape)]!;
  return hostTensor(shape, x.dtype, out);
}

/** Batched gather: indices `x.shape[0..axis) + [n]`. */
export function gatherRef(x: HostTensor, indices: HostTensor, axis: number): HostTensor {
  const n = indices.shape[axis]!;
  const shape = [...x.shape.slice(0, axis), n, ...x.shape.slice(axis + 1)];
  const out = new Float64Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) {
    const oi = unravel(i, shape);
    const j = indices.data[ravel(oi.slice(0, axis + 1), indices.shape)]!;
    const ii = [...oi];
    ii[axis] = j;
    out[i] = x.data[ravel(ii, x.shape)]!;
  }
  return hostTensor(shape, x.dtype, out);
}

/** The adjoint of gather: accumulates `updates` into a zero tensor with axis `axis` of `size`. */
export function scatterAddRef(updates: HostTensor, indices: HostTensor, axis: number, size: number): HostTensor {
  const shape = updates.shape.map((d, i) => (i === axis ? size : d));
  const out = new Float64Array(sizeOf(shape));
  for (let i = 0; i < updates.data.length; i++) {
    const ui = unravel(i, updates.shape);
    const j = indices.data[ravel(ui.slice(0, axis + 1), indices.shape)]!;
    const oi = [...ui];
    oi[axis] = j;
    const o = ravel(oi, shape);
    out[o] = out[o]! + updates.data[i]!;
  }
  if (updates.dtype === 'int32') for (let i = 0; i < out.length; i++) out[i] = out[i]! | 0;
  return hostTensor(shape, updates.dtype, out);
}

// ---------------------------------------------------------------------------------------------
// Fused
// ---------------------------------------------------------------------------------------------

/** Calls `fn(read, write)` once per row along `axis`: `read(j)` / `write(j, v)` address element j of the row. */
function forEachRow(shape: readonly number[], axis: number, fn: (flat: (j: number) => number, len: number, row: number) => void): void {
  const ax = axis < 0 ? axis + shape.length : axis;
  const outer = shape.filter((_, i) => i !== ax);
  const m = sizeOf(outer);
  const len = shape[ax]!;
  for (let o = 0; o < m; o++) {
    const oi = unravel(o, outer);
    fn((j) => ravel([...oi.slice(0, ax), j, ...oi.slice(ax)], shape), len, o);
  }
}

/** log Σ exp along `axis` (max-shifted, in float64). */
export function logSumExpRef(x: HostTensor, axis = -1, keepDims = false): HostTensor {
  const ax = axis < 0 ? axis + x.shape.length : axis;
  const outShape = keepDims ? x.shape.map((d, i) => (i === ax ? 1 : d)) : x.shape.filter((_, i) => i !== ax);
  const out = new Float64Array(sizeOf(outShape));
  forEachRow(x.shape, ax, (flat, len, row) => {
    let mx = -Infinity;
    for (let j = 0; j < len; j++) mx = Math.max(mx, x.data[flat(j)]!);
    let s = 0;
    for (let j = 0; j < len; j++) s += Math.exp(x.data[flat(j)]! - mx);
    out[row] = mx + Math.log(s);
  });
  return hostTensor(outShape, 'float32', out);
}

/** Softmax along `axis`. */
export function softmaxRef(x: HostTensor, axis = -1): HostTensor {
  const out = new Float64Array(x.data.length);
  forEachRow(x.shape, axis, (flat, len) => {
    let mx = -Infinity;
    for (let j = 0; j < len; j++) mx = Math.max(mx, x.data[flat(j)]!);
    let s = 0;
    for (let j = 0; j < len; j++) s += Math.exp(x.data[flat(j)]! - mx);
    for (let j = 0; j < len; j++) out[flat(j)] = Math.exp(x.data[flat(j)]! - mx) / s;
  });
  return hostTensor(x.shape, 'float32', out);
}

/** x − logsumexp(x) along `axis`. */
export function logSoftmaxRef(x: HostTensor, axis = -1): HostTensor {
  const out = new Float64Array(x.data.length);
  forEachRow(x.shape, axis, (flat, len) => {
    let mx = -Infinity;
    for (let j = 0; j < len; j++) mx = Math.max(mx, x.data[flat(j)]!);
    let s = 0;
    for (let j = 0; j < len; j++) s += Math.exp(x.data[flat(j)]! - mx);
    const lse = mx + Math.log(s);
    for (let j = 0; j < len; j++) out[flat(j)] = x.data[flat(j)]! - lse;
  });
  return hostTensor(x.shape, 'float32', out);
}

/** Layer norm over the last axis with biased variance; also returns mean and rstd per row. */
export function layerNormRef(
  x: HostTensor,
  gamma: HostTensor,
  beta: HostTensor,
  eps: number,
): { y: HostTensor; mean: Float64Array; rstd: Float64Array } {
  const d = x.shape[x.shape.length - 1]!;
  const rows = d === 0 ? 0 : x.data.length / d;
  const y = new Float64Array(x.data.length);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let j = 0; j < d; j++) m += x.data[r * d + j]!;
    m /= d;
    let v = 0;
    for (let j = 0; j < d; j++) v += (x.data[r * d + j]! - m) ** 2;
    v /= d;
    const rs = 1 / Math.sqrt(v + eps);
    mean[r] = m;
    rstd[r] = rs;
    for (let j = 0; j < d; j++) y[r * d + j] = (x.data[r * d + j]! - m) * rs * gamma.data[j]! + beta.data[j]!;
  }
  return { y: hostTensor(x.shape, 'float32', y), mean, rstd };
}

/**
 * Gradients of layer norm from its textbook formulas: with x̂ = (x − μ)·rstd and g = dy·γ,
 * dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), dγ = Σ_rows dy·x̂, dβ = Σ_rows dy.
 */
export function layerNormBackwardRef(
  dy: HostTensor,
  x: HostTensor,
  gamma: HostTensor,
  eps: number,
): { dx: HostTensor; dGamma: HostTensor; dBeta: HostTensor } {
  const d = x.shape[x.shape.length - 1]!;
  const rows = d === 0 ? 0 : x.data.length / d;
  const { mean, rstd } = layerNormRef(x, gamma, gamma, eps);
  const dx = new Float64Array(x.data.length);
  const dGamma = new Float64Array(d);
  const dBeta = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    const xhat = new Float64Array(d);
    let mg = 0;
    let mgx = 0;
    for (let j = 0; j < d; j++) {
      xhat[j] = (x.data[r * d + j]! - mean[r]!) * rstd[r]!;
      const g = dy.data[r * d + j]! * gamma.data[j]!;
      mg += g;
      mgx += g * xhat[j]!;
      dGamma[j] = dGamma[j]! + dy.data[r * d + j]! * xhat[j]!;
      dBeta[j] = dBeta[j]! + dy.data[r * d + j]!;
    }
    mg /= d;
    mgx /= d;
    for (let j = 0; j < d; j++) {
      const g = dy.data[r * d + j]! * gamma.data[j]!;
      dx[r * d + j] = rstd[r]! * (g - mg - xhat[j]! * mgx);
    }
  }
  return {
    dx: hostTensor(x.shape, 'float32', dx),
    dGamma: hostTensor([d], 'float32', dGamma),
    dBeta: hostTensor([d], 'float32', dBeta),
  };
}

/** Per-row cross-entropy `lse(z) − z[label]` (0 on ignored rows), reduced as asked. */
export function crossEntropyRef(
  logits: HostTensor,
  labels: HostTensor,
  ignoreIndex: number,
  reduction: 'mean' | 'sum' | 'none',
): HostTensor {
  const v = logits.shape[logits.shape.length - 1]!;
  const rows = labels.data.length;
  const loss = new Float64Array(rows);
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const y = labels.data[r]!;
    if (y === ignoreIndex) continue;
    count++;
    let mx = -Infinity;
    for (let j = 0; j < v; j++) mx = Math.max(mx, logits.data[r * v + j]!);
    let s = 0;
    for (let j = 0; j < v; j++) s += Math.exp(logits.data[r * v + j]! - mx);
    loss[r] = mx + Math.log(s) - logits.data[r * v + y]!;
  }
  if (reduction === 'none') return hostTensor(labels.shape, 'float32', loss);
  const total = loss.reduce((a, b) => a + b, 0);
  return hostTensor([], 'float32', Float64Array.of(reduction === 'sum' ? total : total / Math.max(count, 1)));
}

/** d(Σ dLoss·loss)/dlogits = dLoss·(softmax − onehot), zero on ignored rows (per-row losses). */
export function crossEntropyBackwardRef(logits: HostTensor, labels: HostTensor, dLoss: HostTensor, ignoreIndex: number): HostTensor {
  const v = logits.shape[logits.shape.length - 1]!;
  const rows = labels.data.length;
  const out = new Float64Array(logits.data.length);
  for (let r = 0; r < rows; r++) {
    const y = labels.data[r]!;
    if (y === ignoreIndex) continue;
    let mx = -Infinity;
    for (let j = 0; j < v; j++) mx = Math.max(mx, logits.data[r * v + j]!);
    let s = 0;
    for (let j = 0; j < v; j++) s += Math.exp(logits.data[r * v + j]! - mx);
    for (let j = 0; j < v; j++) out[r * v + j] = dLoss.data[r]! * (Math.exp(logits.data[r * v + j]! - mx) / s - (j === y ? 1 : 0));
  }
  return hostTensor(logits.shape, 'float32', out);
}

/** Inverted dropout with a given per-element uniform: keep where u ≥ rate, scaled by 1/(1 − rate). */
export function dropoutRef(x: HostTensor, rate: number, uniforms: ArrayLike<number>): HostTensor {
  const scale = Math.fround(1 / (1 - rate));
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < out.length; i++) out[i] = uniforms[i]! >= rate ? x.data[i]! * scale : 0;
  return hostTensor(x.shape, 'float32', out);
}
