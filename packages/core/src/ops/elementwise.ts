import { formatValue } from '../format.js';
import { INT_UNARY_OPS, type ArithmeticOp, type CompareOp, type UnaryOp } from '../backend.js';
import { activationBackwardKernel } from '../composite/index.js';
import { DTypeError } from '../errors.js';
import { runOp1 } from '../engine.js';
import type { Tensor } from '../tensor.js';
import type { DType } from '../types.js';
import { scalar, zerosLike } from './creation.js';
import { unbroadcast } from './reduce.js';
import { broadcastShapes, checkDType, requireDType, requireSameDType } from './util.js';

// ---------------------------------------------------------------------------------------------
// Unary
// ---------------------------------------------------------------------------------------------

/** Gradient of each unary op from (dy, x, y). `null`: piecewise constant, gradient zero. */
const UNARY_GRADS: Record<UnaryOp, ((dy: Tensor, x: Tensor, y: Tensor) => Tensor) | null> = {
  neg: (dy) => neg(dy),
  abs: (dy, x) => mul(dy, sign(x)),
  sign: null,
  exp: (dy, _x, y) => mul(dy, y),
  log: (dy, x) => div(dy, x),
  sqrt: (dy, _x, y) => div(dy, mul(y, scalar(2))),
  rsqrt: (dy, _x, y) => mul(dy, mul(scalar(-0.5), mul(y, square(y)))),
  square: (dy, x) => mul(dy, mul(x, scalar(2))),
  reciprocal: (dy, _x, y) => neg(mul(dy, square(y))),
  tanh: (dy, _x, y) => mul(dy, sub(scalar(1), square(y))),
  sigmoid: (dy, _x, y) => mul(dy, mul(y, sub(scalar(1), y))),
  erf: (dy, x) => mul(dy, mul(scalar(2 / Math.sqrt(Math.PI)), exp(neg(square(x))))),
  sin: (dy, x) => mul(dy, cos(x)),
  cos: (dy, x) => neg(mul(dy, sin(x))),
  floor: null,
  ceil: null,
  round: null,
  relu: (dy, x) => activationBackward('relu', x, dy),
  gelu: (dy, x) => activationBackward('gelu', x, dy),
};

function unary(op: UnaryOp, x: Tensor): Tensor {
  if (x.dtype === 'int32' && !INT_UNARY_OPS.has(op)) {
    throw new DTypeError(`${op}: needs a float32 tensor, got int32 ${formatValue(x.shape)}. Use cast(x, 'float32').`);
  }
  const grad = UNARY_GRADS[op];
  return runOp1({
    name: op,
    inputs: [x],
    kernel: (b, [k]) => b.unary(op, k!),
    backward: ([dy], [xs, ys]) => [grad ? grad(dy!, xs!, ys!) : zerosLike(dy!)],
    save: (inputs, outputs) => [inputs[0]!, outputs[0]!],
  });
}

/** `dy · f'(x)` for relu or gelu (fused kernel). */
export function activationBackward(op: 'relu' | 'gelu', x: Tensor, dy: Tensor): Tensor {
  requireDType(`${op}Backward`, 'float32', x, dy);
  return runOp1({ name: `${op}Backward`, inputs: [x, dy], kernel: (b, [xk, dk]) => activationBackwardKernel(b, op, xk!, dk!) });
}

/** −x */
export const neg = (x: Tensor): Tensor => unary('neg', x);
/** |x| */
export const abs = (x: Tensor): Tensor => unary('abs', x);
/** −1, 0 or 1. */
export const sign = (x: Tensor): Tensor => unary('sign', x);
/** eˣ */
export const exp = (x: Tensor): Tensor => unary('exp', x);
/** Natural logarithm. */
export const log = (x: Tensor): Tensor => unary('log', x);
/** √x */
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
/** 1/√x */
export const rsqrt = (x: Tensor): Tensor => unary('rsqrt', x);
/** x² */
export const square = (x: Tensor): Tensor => unary('square', x);
/** 1/x */
export const reciprocal = (x: Tensor): Tensor => unary('reciprocal', x);
/** Hyperbolic tangent. */
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
/** 1/(1+e⁻ˣ) */
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
/** The error function. */
export const erf = (x: Tensor): Tensor => unary('erf', x);
/** Sine. */
export const sin = (x: Tensor): Tensor => unary('sin', x);
/** Cosine. */
export const cos = (x: Tensor): Tensor => unary('cos', x);
/** Rounds down. */
export const floor = (x: Tensor): Tensor => unary('floor', x);
/** Rounds up. */
export const ceil = (x: Tensor): Tensor => unary('ceil', x);
/** Rounds half to even. */
export const round = (x: Tensor): Tensor => unary('round', x);
/** max(x, 0) */
export const relu = (x: Tensor): Tensor => unary('relu', x);
/** Exact GELU: x·Φ(x) = ½x(1 + erf(x/√2)). */
export const gelu = (x: Tensor): Tensor => unary('gelu', x);

// ---------------------------------------------------------------------------------------------
// Binary
// ---------------------------------------------------------------------------------------------

type GradPair = (dy: Tensor, a: Tensor, b: Tensor, y: Tensor) => [Tensor | null, Tensor | null];

const BINARY_GRADS: Record<ArithmeticOp, GradPair | null> = {
  add: (dy) => [dy, dy],
  sub: (dy) => [dy, neg(dy)],
  mul: (dy, a, b) => [mul(dy, b), mul(dy, a)],
  div: (dy, a, b) => [div(dy, b), neg(div(mul(dy, a), square(b)))],
  pow: (dy, a, b, y) => {
    const da = mul(dy, mul(b, pow(a, sub(b, scalar(1)))));
    const safeLog = where(greater(a, scalar(0)), log(a), zerosLike(a));
    return [da, mul(dy, mul(y, safeLog))];
  },
  maximum: (dy, a, b) => [mul(dy, cast(greaterEqual(a, b), 'float32')), mul(dy, cast(less(a, b), 'float32'))],
  minimum: (dy, a, b) => [mul(dy, cast(lessEqual(a, b), 'float32')), mul(dy, cast(greater(a, b), 'float32'))],
  mod: (dy, a, b) => [dy, neg(mul(dy, floorDiv(a, b)))],
  floorDiv: null,
};

function arithmetic(op: ArithmeticOp, a: Tensor, b: Tensor): Tensor {
  requireSameDType(op, a, b);
  const outShape = broadcastShapes(op, a.shape, b.shape);
  const grad = BINARY_GRADS[op];
  const aShape = a.shape;
  const bShape = b.shape;
  return runOp1({
    name: op,
    inputs: [a, b],
    kernel: (be, [ak, bk]) => be.binary(op, ak!, bk!, outShape),
    backward: ([dy], [as, bs, ys]) => {
      if (!grad) return [zerosLike(as!), zerosLike(bs!)];
      const [da, db] = grad(dy!, as!, bs!, ys!);
      return [da && unbroadcast(da, aShape), db && unbroadcast(db, bShape)];
    },
    save: (inputs, outputs) => [inputs[0]!, inputs[1]!, outputs[0]!],
  });
}

/** a + b (broadcasting). */
export const add = (a: Tensor, b: Tensor): Tensor => arithmetic('add', a, b);
/** a − b (broadcasting). */
export const sub = (a: Tensor, b: Tensor): Tensor => arithmetic('sub', a, b);
/** a · b (broadcasting). */
export const mul = (a: Tensor, b: Tensor): Tensor => arithmetic('mul', a, b);
/** a / b (broadcasting; int32 division rounds toward −∞). */
export const div = (a: Tensor, b: Tensor): Tensor => arithmetic('div', a, b);
/** aᵇ (broadcasting). */
export const pow = (a: Tensor, b: Tensor): Tensor => arithmetic('pow', a, b);
/** Element-wise maximum. */
export const maximum = (a: Tensor, b: Tensor): Tensor => arithmetic('maximum', a, b);
/** Element-wise minimum. */
export const minimum = (a: Tensor, b: Tensor): Tensor => arithmetic('minimum', a, b);
/** Remainder with the sign of the divisor (Python's %). */
export const mod = (a: Tensor, b: Tensor): Tensor => arithmetic('mod', a, b);
/** ⌊a / b⌋. */
export const floorDiv = (a: Tensor, b: Tensor): Tensor => arithmetic('floorDiv', a, b);

function compare(op: CompareOp, a: Tensor, b: Tensor): Tensor {
  requireSameDType(op, a, b);
  const outShape = broadcastShapes(op, a.shape, b.shape);
  return runOp1({ name: op, inputs: [a, b], kernel: (be, [ak, bk]) => be.binary(op, ak!, bk!, outShape) });
}

/** 1 where a == b, else 0 (int32). */
export const equal = (a: Tensor, b: Tensor): Tensor => compare('equal', a, b);
/** 1 where a != b, else 0 (int32). */
export const notEqual = (a: Tensor, b: Tensor): Tensor => compare('notEqual', a, b);
/** 1 where a < b, else 0 (int32). */
export const less = (a: Tensor, b: Tensor): Tensor => compare('less', a, b);
/** 1 where a <= b, else 0 (int32). */
export const lessEqual = (a: Tensor, b: Tensor): Tensor => compare('lessEqual', a, b);
/** 1 where a > b, else 0 (int32). */
export const greater = (a: Tensor, b: Tensor): Tensor => compare('greater', a, b);
/** 1 where a >= b, else 0 (int32). */
export const greaterEqual = (a: Tensor, b: Tensor): Tensor => compare('greaterEqual', a, b);

/** `cond ? a : b` element-wise (cond int32, nonzero = true), all three broadcasting. */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  requireDType('where', 'int32', cond);
  requireSameDType('where', a, b);
  const outShape = broadcastShapes('where', broadcastShapes('where', cond.shape, a.shape), b.shape);
  const aShape = a.shape;
  const bShape = b.shape;
  return runOp1({
    name: 'where',
    inputs: [cond, a, b],
    kernel: (be, [ck, ak, bk]) => be.where(ck!, ak!, bk!, outShape),
    backward: ([dy], [c]) => {
      const zero = zerosLike(dy!);
      return [null, unbroadcast(where(c!, dy!, zero), aShape), unbroadcast(where(c!, zero, dy!), bShape)];
    },
    save: (inputs) => [inputs[0]!],
  });
}

/** Converts to `dtype` (float → int truncates toward zero). Same dtype: a view of `x` (no copy). */
export function cast(x: Tensor, dtype: DType): Tensor {
  checkDType('cast', dtype);
  const differentiable = x.dtype === 'float32' && dtype === 'float32';
  return runOp1({
    name: 'cast',
    inputs: [x],
    kernel: (be, [k]) => (k!.dtype === dtype ? k! : be.cast(k!, dtype)),
    backward: differentiable ? ([dy]) => [dy] : undefined,
  });
}
