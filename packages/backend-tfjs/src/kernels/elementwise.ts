/**
 * Element-wise kernels on tfjs ops, with the contract's semantics where tfjs's differ: unary ops (sign
 * keeps tiny values, round half to even), binary ops (int32 floor division and Python modulo), casts
 * that truncate toward zero, and the activation gradients. Call inside `tf.tidy`.
 */
import type { ActivationOp, BinaryOp, DType, UnaryOp } from '@reformer/core';
import type { TfModule, TfTensor } from '../types.js';

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** `op` on `a` of `dtype`; int32 ops other than neg/abs/sign/square run in float32 and cast back. */
export function unaryOp(tf: TfModule, op: UnaryOp, a: TfTensor, dtype: DType): TfTensor {
  if (dtype === 'int32') {
    switch (op) {
      case 'neg':
        return tf.sub(tf.scalar(0, 'int32'), a);
      case 'abs':
        return tf.abs(a);
      case 'sign':
        return tf.sub(tf.cast(tf.greater(a, 0), 'int32'), tf.cast(tf.less(a, 0), 'int32'));
      case 'square':
        return tf.mul(a, a);
      default:
        return tf.cast(unaryFloat(tf, op, tf.cast(a, 'float32')), 'int32');
    }
  }
  return unaryFloat(tf, op, a);
}

function unaryFloat(tf: TfModule, op: UnaryOp, a: TfTensor): TfTensor {
  switch (op) {
    case 'neg':
      return tf.neg(a);
    case 'abs':
      return tf.abs(a);
    case 'sign': // tf.sign flushes tiny values to 0 on wasm
      return tf.where(tf.isNaN(a), a, tf.sub(tf.cast(tf.greater(a, 0), 'float32'), tf.cast(tf.less(a, 0), 'float32')));
    case 'exp':
      return tf.exp(a);
    case 'log':
      return tf.log(a);
    case 'sqrt':
      return tf.sqrt(a);
    case 'rsqrt':
      return tf.div(1, tf.sqrt(a));
    case 'square':
      return tf.mul(a, a);
    case 'reciprocal':
      return tf.div(1, a);
    case 'tanh':
      return tf.tanh(a);
    case 'sigmoid':
      return tf.sigmoid(a);
    case 'erf':
      return tf.erf(a);
    case 'sin':
      return tf.sin(a);
    case 'cos':
      return tf.cos(a);
    case 'floor':
      return tf.floor(a);
    case 'ceil':
      return tf.ceil(a);
    case 'round':
      return roundHalfEven(tf, a);
    case 'relu':
      return tf.where(tf.less(a, 0), tf.zerosLike(a), a);
    case 'gelu':
      return tf.mul(tf.mul(a, 0.5), tf.add(1, tf.erf(tf.mul(a, SQRT1_2))));
    default:
      throw new Error(`tfjs unary: unknown op '${String(op satisfies never)}'`);
  }
}

/** Round half to even, built from floor (tfjs backends differ in their `round`). */
function roundHalfEven(tf: TfModule, a: TfTensor): TfTensor {
  const f = tf.floor(a);
  const diff = tf.sub(a, f);
  const up = tf.add(f, 1);
  // Is floor even? f − 2·floor(f/2) == 0.
  const fEven = tf.equal(tf.sub(f, tf.mul(tf.floor(tf.div(f, 2)), 2)), 0);
  const half = tf.where(fEven, f, up);
  const r = tf.where(tf.less(diff, 0.5), f, tf.where(tf.greater(diff, 0.5), up, half));
  // Keep non-finite values (floor(±Inf) = ±Inf already; NaN stays NaN through where on NaN diff → up).
  return tf.where(tf.isFinite(a), r, a);
}

/**
 * `op` on `x` and `y` of `dtype` (tfjs broadcasting; the caller expands the result to the output
 * shape). Comparisons give bool; int32 pow runs in float32, int32 division is floor division.
 */
export function binaryOp(tf: TfModule, op: BinaryOp, x: TfTensor, y: TfTensor, dtype: DType): TfTensor {
  switch (op) {
    case 'equal':
      return tf.equal(x, y);
    case 'notEqual':
      return tf.notEqual(x, y);
    case 'less':
      return tf.less(x, y);
    case 'lessEqual':
      return tf.lessEqual(x, y);
    case 'greater':
      return tf.greater(x, y);
    case 'greaterEqual':
      return tf.greaterEqual(x, y);
    case 'add':
      return tf.add(x, y);
    case 'sub':
      return tf.sub(x, y);
    case 'mul':
      return tf.mul(x, y);
    case 'maximum':
      return tf.maximum(x, y);
    case 'minimum':
      return tf.minimum(x, y);
    case 'pow':
      return dtype === 'int32' ? tf.cast(tf.pow(tf.cast(x, 'float32'), tf.cast(y, 'float32')), 'int32') : tf.pow(x, y);
    case 'div':
      return dtype === 'int32' ? intFloorDiv(tf, x, y) : tf.div(x, y);
    case 'floorDiv':
      return dtype === 'int32' ? intFloorDiv(tf, x, y) : tf.floor(tf.div(x, y));
    case 'mod':
      return dtype === 'int32' ? intMod(tf, x, y) : floatMod(tf, x, y);
    default:
      throw new Error(`tfjs binary: unknown op '${String(op satisfies never)}'`);
  }
}

/** int32 floor division; division by 0 gives 0. Computed exactly in int32 arithmetic. */
function intFloorDiv(tf: TfModule, x: TfTensor, y: TfTensor): TfTensor {
  const zero = tf.equal(y, 0);
  const ySafe = tf.where(zero, tf.onesLike(y), y);
  // Truncated quotient from float division is exact for |x| < 2^24; correct it with the remainder.
  let q = tf.cast(tf.floor(tf.div(tf.cast(x, 'float32'), tf.cast(ySafe, 'float32'))), 'int32');
  // Fix off-by-one from float rounding: r = x − q·y must satisfy 0 ≤ r/y < 1 (sign of y).
  const r = tf.sub(x, tf.mul(q, ySafe));
  const yPos = tf.greater(ySafe, 0);
  const tooBig = tf.logicalOr(tf.logicalAnd(yPos, tf.greaterEqual(r, ySafe)), tf.logicalAnd(tf.logicalNot(yPos), tf.lessEqual(r, ySafe)));
  const tooSmall = tf.logicalOr(tf.logicalAnd(yPos, tf.less(r, 0)), tf.logicalAnd(tf.logicalNot(yPos), tf.greater(r, 0)));
  q = tf.add(q, tf.sub(tf.cast(tooBig, 'int32'), tf.cast(tooSmall, 'int32')));
  return tf.where(tf.broadcastTo(zero, q.shape), tf.zerosLike(q), q);
}

/** int32 Python modulo (sign of the divisor); modulo 0 gives 0. */
function intMod(tf: TfModule, x: TfTensor, y: TfTensor): TfTensor {
  const q = intFloorDiv(tf, x, y);
  const zero = tf.broadcastTo(tf.equal(y, 0), q.shape);
  const r = tf.sub(x, tf.mul(q, y));
  return tf.where(zero, tf.zerosLike(r), r);
}

/** Float Python modulo: `a % b` (truncated) shifted by b when the signs differ. */
function floatMod(tf: TfModule, x: TfTensor, y: TfTensor): TfTensor {
  const q = tf.div(x, y);
  const t = tf.where(tf.less(q, 0), tf.ceil(q), tf.floor(q)); // trunc(a / b)
  const r = tf.sub(x, tf.mul(t, y)); // a % b (C fmod)
  const fix = tf.logicalAnd(tf.notEqual(r, 0), tf.notEqual(tf.less(r, 0), tf.less(y, 0)));
  return tf.where(fix, tf.add(r, y), r);
}

/** `a` of dtype `from` cast to `to`: a copy when equal, float → int32 truncates toward zero and maps NaN to 0. */
export function castOp(tf: TfModule, a: TfTensor, from: DType, to: DType): TfTensor {
  if (from === to) return tf.clone(a);
  if (to === 'int32') {
    // Truncate toward zero explicitly; NaN → 0.
    const t = tf.where(tf.less(a, 0), tf.ceil(a), tf.floor(a));
    return tf.cast(tf.where(tf.isNaN(t), tf.zerosLike(t), t), 'int32');
  }
  return tf.cast(a, to);
}

/** `dy · op'(x)` for relu (0 at x ≤ 0) and the exact (erf) gelu. */
export function activationGrad(tf: TfModule, op: ActivationOp, a: TfTensor, d: TfTensor): TfTensor {
  if (op === 'relu') return tf.where(tf.greater(a, 0), d, tf.zerosLike(d));
  const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(a, SQRT1_2))));
  const pdf = tf.mul(INV_SQRT_2PI, tf.exp(tf.mul(-0.5, tf.mul(a, a))));
  return tf.mul(d, tf.add(cdf, tf.mul(a, pdf)));
}
