/**
 * Element-wise kernels: unary functions, binary arithmetic and comparisons with NumPy broadcasting,
 * `where`, `cast` and the fused activation backward.
 *
 * Every kernel switches on the op once, outside its loop, and runs one tight loop per op. Values are
 * computed in JS doubles and stored into the output typed array (float32 rounding happens on store).
 *
 * int32 semantics: results wrap to 32 bits; `div` is floor division (the same as `floorDiv`, so an
 * integer tensor never silently turns fractional); `mod` takes the sign of the divisor (Python); integer
 * division or modulo by 0 gives 0 (as NumPy does); `pow` computes in doubles and truncates toward zero.
 */
import { isCompareOp, type ActivationOp, type BinaryOp, type CompareOp, type UnaryOp } from '../backend.js';
import type { DType, Shape } from '../types.js';
import { geluGrad, gelu, erf, roundHalfEven } from './math.js';
import type { CpuStorage } from './storage.js';
import { broadcastStrides, contiguousStrides, planRows, product } from './strided.js';

/** A tensor filled with `value` (truncated toward zero for int32). */
export function fill(shape: Shape, value: number, dtype: DType): CpuStorage {
  const size = product(shape);
  if (dtype === 'int32') return new Int32Array(size).fill(Math.trunc(value));
  return new Float32Array(size).fill(value);
}

// ---------------------------------------------------------------------------------------------------
// unary

/** `op(x)` element-wise. int32 inputs support `neg`, `abs`, `sign`, `square` (result int32). */
export function unary(op: UnaryOp, x: CpuStorage): CpuStorage {
  if (x instanceof Int32Array) return unaryInt(op, x);
  return unaryFloat(op, x);
}

function unaryInt(op: UnaryOp, x: Int32Array): Int32Array {
  const n = x.length;
  const out = new Int32Array(n);
  switch (op) {
    case 'neg':
      for (let i = 0; i < n; i++) out[i] = -x[i]! | 0;
      return out;
    case 'abs':
      for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]!) | 0;
      return out;
    case 'sign':
      for (let i = 0; i < n; i++) out[i] = Math.sign(x[i]!);
      return out;
    case 'square':
      for (let i = 0; i < n; i++) out[i] = Math.imul(x[i]!, x[i]!);
      return out;
    default: {
      // Float-only ops on int32 input (the ops layer normally refuses these): compute on the values.
      const asFloat = unaryFloat(op, Float32Array.from(x));
      for (let i = 0; i < n; i++) out[i] = Math.trunc(asFloat[i]!);
      return out;
    }
  }
}

function unaryFloat(op: UnaryOp, x: Float32Array): Float32Array {
  const n = x.length;
  const out = new Float32Array(n);
  switch (op) {
    case 'neg':
      for (let i = 0; i < n; i++) out[i] = -x[i]!;
      break;
    case 'abs':
      for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]!);
      break;
    case 'sign':
      // sign(0) = 0, sign(NaN) = NaN.
      for (let i = 0; i < n; i++) out[i] = Math.sign(x[i]!);
      break;
    case 'exp':
      for (let i = 0; i < n; i++) out[i] = Math.exp(x[i]!);
      break;
    case 'log':
      for (let i = 0; i < n; i++) out[i] = Math.log(x[i]!);
      break;
    case 'sqrt':
      for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]!);
      break;
    case 'rsqrt':
      for (let i = 0; i < n; i++) out[i] = 1 / Math.sqrt(x[i]!);
      break;
    case 'square':
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        out[i] = v * v;
      }
      break;
    case 'reciprocal':
      for (let i = 0; i < n; i++) out[i] = 1 / x[i]!;
      break;
    case 'tanh':
      for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]!);
      break;
    case 'sigmoid':
      for (let i = 0; i < n; i++) out[i] = 1 / (1 + Math.exp(-x[i]!));
      break;
    case 'erf':
      for (let i = 0; i < n; i++) out[i] = erf(x[i]!);
      break;
    case 'sin':
      for (let i = 0; i < n; i++) out[i] = Math.sin(x[i]!);
      break;
    case 'cos':
      for (let i = 0; i < n; i++) out[i] = Math.cos(x[i]!);
      break;
    case 'floor':
      for (let i = 0; i < n; i++) out[i] = Math.floor(x[i]!);
      break;
    case 'ceil':
      for (let i = 0; i < n; i++) out[i] = Math.ceil(x[i]!);
      break;
    case 'round':
      for (let i = 0; i < n; i++) out[i] = roundHalfEven(x[i]!);
      break;
    case 'relu':
      // NaN stays NaN (x < 0 is false for NaN).
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        out[i] = v < 0 ? 0 : v;
      }
      break;
    case 'gelu':
      for (let i = 0; i < n; i++) out[i] = gelu(x[i]!);
      break;
    default:
      throw new Error(`cpu unary: unknown op '${String(op satisfies never)}'`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// binary

/** `a op b` with NumPy broadcasting to `outShape`. Comparisons give int32 0/1; arithmetic keeps `dtype`. */
export function binary(
  op: BinaryOp,
  a: CpuStorage,
  aShape: Shape,
  b: CpuStorage,
  bShape: Shape,
  outShape: Shape,
  dtype: DType,
): CpuStorage {
  const isCompare = isCompareOp(op);
  const size = product(outShape);
  const out: CpuStorage = isCompare || dtype === 'int32' ? new Int32Array(size) : new Float32Array(size);
  const plan = planRows(outShape, [contiguousStrides(outShape), broadcastStrides(aShape, outShape), broadcastStrides(bShape, outShape)]);
  const [oOffs, aOffs, bOffs] = plan.offsets as [Int32Array, Int32Array, Int32Array];
  const [, aStep, bStep] = plan.step as [number, number, number];
  const n = plan.rowLength;
  if (isCompare) {
    for (let r = 0; r < plan.rowCount; r++) {
      compareRow(op as CompareOp, a, aOffs[r]!, aStep, b, bOffs[r]!, bStep, out as Int32Array, oOffs[r]!, n);
    }
  } else if (out instanceof Int32Array) {
    const aInt = asInt(a);
    const bInt = asInt(b);
    for (let r = 0; r < plan.rowCount; r++) {
      intArithRow(op, aInt, aOffs[r]!, aStep, bInt, bOffs[r]!, bStep, out, oOffs[r]!, n);
    }
  } else {
    const aFloat = asFloat(a);
    const bFloat = asFloat(b);
    for (let r = 0; r < plan.rowCount; r++) {
      floatArithRow(op, aFloat, aOffs[r]!, aStep, bFloat, bOffs[r]!, bStep, out, oOffs[r]!, n);
    }
  }
  return out;
}

function asInt(x: CpuStorage): Int32Array {
  return x instanceof Int32Array ? x : Int32Array.from(x, Math.trunc);
}

function asFloat(x: CpuStorage): Float32Array {
  return x instanceof Float32Array ? x : Float32Array.from(x);
}

/** Python-style float modulo: the result has the sign of the divisor. */
function floatMod(a: number, b: number): number {
  const r = a % b;
  return r !== 0 && r < 0 !== b < 0 ? r + b : r;
}

function floatArithRow(
  op: BinaryOp,
  a: Float32Array,
  ai: number,
  sa: number,
  b: Float32Array,
  bi: number,
  sb: number,
  out: Float32Array,
  oi: number,
  n: number,
): void {
  const end = oi + n;
  switch (op) {
    case 'add':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = a[ai]! + b[bi]!;
      return;
    case 'sub':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = a[ai]! - b[bi]!;
      return;
    case 'mul':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = a[ai]! * b[bi]!;
      return;
    case 'div':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = a[ai]! / b[bi]!;
      return;
    case 'pow':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = Math.pow(a[ai]!, b[bi]!);
      return;
    case 'maximum':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = Math.max(a[ai]!, b[bi]!);
      return;
    case 'minimum':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = Math.min(a[ai]!, b[bi]!);
      return;
    case 'mod':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = floatMod(a[ai]!, b[bi]!);
      return;
    case 'floorDiv':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = Math.floor(a[ai]! / b[bi]!);
      return;
    default:
      throw new Error(`cpu binary: '${op}' is not an arithmetic op`);
  }
}

function intArithRow(
  op: BinaryOp,
  a: Int32Array,
  ai: number,
  sa: number,
  b: Int32Array,
  bi: number,
  sb: number,
  out: Int32Array,
  oi: number,
  n: number,
): void {
  const end = oi + n;
  switch (op) {
    case 'add':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = (a[ai]! + b[bi]!) | 0;
      return;
    case 'sub':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = (a[ai]! - b[bi]!) | 0;
      return;
    case 'mul':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = Math.imul(a[ai]!, b[bi]!);
      return;
    case 'div': // int32 `div` is floor division, like `floorDiv`.
    case 'floorDiv':
      // x / 0 is ±Infinity or NaN, which `| 0` turns into 0 (NumPy's integer result).
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = Math.floor(a[ai]! / b[bi]!) | 0;
      return;
    case 'mod':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) {
        const x = a[ai]!;
        const y = b[bi]!;
        const r = y === 0 ? 0 : x % y;
        out[o] = r !== 0 && r < 0 !== y < 0 ? r + y : r;
      }
      return;
    case 'pow':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = Math.trunc(Math.pow(a[ai]!, b[bi]!)) | 0;
      return;
    case 'maximum':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = Math.max(a[ai]!, b[bi]!);
      return;
    case 'minimum':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = Math.min(a[ai]!, b[bi]!);
      return;
    default:
      throw new Error(`cpu binary: '${op}' is not an arithmetic op`);
  }
}

function compareRow(
  op: CompareOp,
  a: CpuStorage,
  ai: number,
  sa: number,
  b: CpuStorage,
  bi: number,
  sb: number,
  out: Int32Array,
  oi: number,
  n: number,
): void {
  const end = oi + n;
  switch (op) {
    case 'equal':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = a[ai]! === b[bi]! ? 1 : 0;
      return;
    case 'notEqual':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = a[ai]! !== b[bi]! ? 1 : 0;
      return;
    case 'less':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = a[ai]! < b[bi]! ? 1 : 0;
      return;
    case 'lessEqual':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = a[ai]! <= b[bi]! ? 1 : 0;
      return;
    case 'greater':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = a[ai]! > b[bi]! ? 1 : 0;
      return;
    case 'greaterEqual':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = a[ai]! >= b[bi]! ? 1 : 0;
      return;
    default:
      throw new Error(`cpu compare: unknown op '${String(op satisfies never)}'`);
  }
}

// ---------------------------------------------------------------------------------------------------
// where, cast, activation backward

/** `cond ? a : b` element-wise (cond int32, nonzero = true), broadcast to `outShape`. */
export function where(
  cond: CpuStorage,
  condShape: Shape,
  a: CpuStorage,
  aShape: Shape,
  b: CpuStorage,
  bShape: Shape,
  outShape: Shape,
  dtype: DType,
): CpuStorage {
  const size = product(outShape);
  const out: CpuStorage = dtype === 'int32' ? new Int32Array(size) : new Float32Array(size);
  const plan = planRows(outShape, [
    contiguousStrides(outShape),
    broadcastStrides(condShape, outShape),
    broadcastStrides(aShape, outShape),
    broadcastStrides(bShape, outShape),
  ]);
  const [oOffs, cOffs, aOffs, bOffs] = plan.offsets as [Int32Array, Int32Array, Int32Array, Int32Array];
  const [, sc, sa, sb] = plan.step as [number, number, number, number];
  const n = plan.rowLength;
  for (let r = 0; r < plan.rowCount; r++) {
    let ci = cOffs[r]!;
    let ai = aOffs[r]!;
    let bi = bOffs[r]!;
    const oi = oOffs[r]!;
    const end = oi + n;
    for (let o = oi; o < end; o++, ci += sc, ai += sa, bi += sb) out[o] = cond[ci]! !== 0 ? a[ai]! : b[bi]!;
  }
  return out;
}

/** Converts to `dtype`; float → int truncates toward zero (NaN → 0), int → float rounds to float32. */
export function cast(x: CpuStorage, dtype: DType): CpuStorage {
  const n = x.length;
  if (dtype === 'int32') {
    if (x instanceof Int32Array) return x.slice();
    const out = new Int32Array(n);
    // Assigning to an Int32Array truncates toward zero (ToInt32); Math.trunc makes it explicit.
    for (let i = 0; i < n; i++) out[i] = Math.trunc(x[i]!);
    return out;
  }
  if (x instanceof Float32Array) return x.slice();
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = x[i]!;
  return out;
}

/** `dy · f'(x)` for the activation `op`: relu' = (x > 0 ? 1 : 0), gelu' = Φ(x) + x·φ(x). */
export function activationBackward(op: ActivationOp, x: Float32Array, dy: Float32Array): Float32Array {
  const n = x.length;
  const out = new Float32Array(n);
  switch (op) {
    case 'relu':
      for (let i = 0; i < n; i++) out[i] = dy[i]! * (x[i]! > 0 ? 1 : 0);
      break;
    case 'gelu':
      for (let i = 0; i < n; i++) out[i] = dy[i]! * geluGrad(x[i]!);
      break;
    default:
      throw new Error(`cpu activationBackward: unknown op '${String(op satisfies never)}'`);
  }
  return out;
}
