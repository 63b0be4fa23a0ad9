/**
 * The one vocabulary of argument checks (in the spirit of tfjs's `util.assert`): integers, numbers in
 * a range, one-of-a-list options, tensor dtypes and padding masks. Every check throws a named error of
 * `./errors.ts` whose message has one form, `<where>: <name> must be <what>, got <value>.`, names the
 * argument, what it must be and what was given (printed with {@link formatValue}), and returns the
 * checked value typed, so a caller can write `const n = checkInteger(where, 'n', options.n, 1)`.
 *
 * Shapes print with {@link formatShape}; dtype names are checked by `checkDType` (`ops/util.ts`),
 * seeds by `checkSeed` (`random.ts`) and allocation sizes by `checkAllocation` (`allocation.ts`).
 *
 * @module
 */
import { DTypeError, InvalidArgumentError, ShapeMismatchError } from './errors.js';
import { formatValue } from './format.js';
import { Variable, type Tensor } from './tensor.js';
import { formatShape, type DType } from './types.js';

/** `an integer`, `a non-negative integer`, `a positive integer`, `an integer ≥ 2`, `an integer in [0, 9]`. */
function describeInteger(min: number, max: number): string {
  if (min === -Infinity && max === Infinity) return 'an integer';
  if (max !== Infinity) return `an integer in [${min}, ${max}]`;
  if (min === 0) return 'a non-negative integer';
  if (min === 1) return 'a positive integer';
  return `an integer ≥ ${min}`;
}

/**
 * Whether `value` is a safe integer in `[min, max]`: the rule {@link checkInteger} enforces, for callers
 * that collect problems instead of throwing at the first (config validation).
 */
export function isInteger(value: unknown, min = 0, max = Infinity): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max;
}

/** Whether `value` is a shape: an array of non-negative safe integers (`[]` for a scalar). */
export function isShape(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((d) => isInteger(d, 0));
}

/** Whether `value` is a finite number ≥ 0: the rule {@link checkNonNegative} enforces. */
export function isNonNegative(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * Checks that `value` is a safe integer in `[min, max]` and returns it.
 *
 * @param where - the function or class that checks, first word of the message (`'lshAttention'`).
 * @param name - the argument's name as the caller wrote it (`'chunkLength'`, `'options.nHashes'`).
 * @param value - the value given (any type: untyped callers are checked too).
 * @param min - the smallest accepted value (default 0; -Infinity: any integer).
 * @param max - the largest accepted value (default: no bound).
 * @returns `value`, typed as a number.
 * @throws InvalidArgumentError `<where>: <name> must be a positive integer, got 0.` (or `a non-negative
 * integer`, `an integer ≥ 2`, `an integer in [0, 9]`).
 */
export function checkInteger(where: string, name: string, value: unknown, min = 0, max = Infinity): number {
  if (!isInteger(value, min, max)) {
    throw new InvalidArgumentError(`${where}: ${name} must be ${describeInteger(min, max)}, got ${formatValue(value)}.`);
  }
  return value;
}

/** Which ends of a {@link checkNumber} range are accepted. */
export interface RangeEnds {
  /** Whether `min` itself is accepted (default true). */
  readonly minInclusive?: boolean;
  /** Whether `max` itself is accepted (default true). */
  readonly maxInclusive?: boolean;
}

/**
 * Checks that `value` is a finite number in the range from `min` to `max` (ends included unless
 * `ends` says otherwise) and returns it.
 *
 * @param where - the function or class that checks.
 * @param name - the argument's name.
 * @param value - the value given.
 * @param min - the lower end (default -Infinity).
 * @param max - the upper end (default Infinity).
 * @param ends - whether each end is accepted (default both).
 * @returns `value`, typed as a number.
 * @throws InvalidArgumentError `<where>: <name> must be a number in [0, 1), got 1.` (also for NaN,
 * ±Infinity and non-numbers).
 */
export function checkNumber(where: string, name: string, value: unknown, min = -Infinity, max = Infinity, ends: RangeEnds = {}): number {
  const { minInclusive = true, maxInclusive = true } = ends;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (minInclusive ? value >= min : value > min) &&
    (maxInclusive ? value <= max : value < max);
  if (!ok) {
    const range = `${minInclusive ? '[' : '('}${min}, ${max}${maxInclusive ? ']' : ')'}`;
    throw new InvalidArgumentError(`${where}: ${name} must be a number in ${range}, got ${formatValue(value)}.`);
  }
  return value;
}

/**
 * Checks that `value` is a finite number ≥ 0 (a standard deviation, an epsilon) and returns it.
 *
 * @throws InvalidArgumentError `<where>: <name> must be a finite non-negative number, got NaN.`
 */
export function checkNonNegative(where: string, name: string, value: unknown): number {
  if (!isNonNegative(value)) {
    throw new InvalidArgumentError(`${where}: ${name} must be a finite non-negative number, got ${formatValue(value)}.`);
  }
  return value;
}

/**
 * Checks that `value` is a positive integer that divides `total` (a chunk length of a sequence) and
 * returns it.
 *
 * @param where - the function or class that checks.
 * @param name - the argument's name (`'chunkLength'`).
 * @param value - the value given.
 * @param total - the number it must divide.
 * @param totalName - what `total` is, for the message (`'the sequence length'`).
 * @param advice - an optional sentence appended to the message: what to do instead.
 * @throws InvalidArgumentError `<where>: <name> must be a positive integer dividing the sequence length
 * 12, got 5.` followed by `advice`.
 */
export function checkDivisor(where: string, name: string, value: unknown, total: number, totalName: string, advice = ''): number {
  if (!isInteger(value, 1) || total % value !== 0) {
    const then = advice === '' ? '' : ` ${advice}`;
    throw new InvalidArgumentError(
      `${where}: ${name} must be a positive integer dividing ${totalName} ${total}, got ${formatValue(value)}.${then}`,
    );
  }
  return value;
}

/** Checks a probability such as a dropout rate: a number in [0, 1). Returns it. */
export function checkRate(where: string, name: string, value: unknown): number {
  return checkNumber(where, name, value, 0, 1, { maxInclusive: false });
}

/**
 * Checks that `value` is one of `allowed` (compared with `===`) and returns it typed.
 *
 * @throws InvalidArgumentError `<where>: <name> must be 'relu' or 'gelu', got "tanh".` (or `one of 'a',
 * 'b' or 'c'` for longer lists).
 */
export function checkEnum<T extends string | number | boolean>(where: string, name: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    const names = allowed.map((a) => (typeof a === 'string' ? `'${a}'` : String(a)));
    const list = names.length <= 2 ? names.join(' or ') : `one of ${names.slice(0, -1).join(', ')} or ${names[names.length - 1]!}`;
    throw new InvalidArgumentError(`${where}: ${name} must be ${list}, got ${formatValue(value)}.`);
  }
  return value as T;
}

/**
 * Checks that the tensor `t` (the argument `name`) has dtype `dtype`.
 *
 * @throws DTypeError `<where>: <name> must be a float32 tensor, got int32 [2, 3]; use cast(<name>, 'float32').`
 */
export function checkTensorDType(where: string, name: string, t: Tensor, dtype: DType): void {
  if (t.dtype !== dtype) {
    throw new DTypeError(
      `${where}: ${name} must be a ${dtype} tensor, got ${t.dtype} ${formatShape(t.shape)}; use cast(${name}, '${dtype}').`,
    );
  }
}

/**
 * The int32 values of `t` on the host when its backend reads synchronously (CPU, wasm, tfjs cpu/wasm/
 * tensorflow), else `undefined`. Checks of values (mask values, replayed buckets) read through this:
 * on backends that only read asynchronously (WebGPU, tfjs webgl/webgpu) a check never waits for a
 * readback, so those values are not checked there.
 */
export function hostInt32Values(t: Tensor): Int32Array | undefined {
  if (t.backend.readSync === undefined || t.dtype !== 'int32') return undefined;
  return t.dataSync() as Int32Array;
}

/** Masks whose values were read and found 0/1 (tensors are immutable; a Variable is not cached). */
const checkedMasks = new WeakSet<Tensor>();

/**
 * Checks a padding mask: int32 `[batch, length]`, 1 = real token, 0 = padding. When the backend reads
 * synchronously its values are checked too (once per tensor: a model passes the same mask to every
 * layer); elsewhere only its dtype and shape.
 *
 * @param where - the function or class that checks.
 * @param mask - the mask, or `undefined` (no mask: nothing to check).
 * @param batch - the batch size it must have.
 * @param length - the length it must have.
 * @throws DTypeError when it is not int32; ShapeMismatchError when it is not `[batch, length]`;
 * InvalidArgumentError naming the first value that is neither 0 nor 1.
 */
export function checkPaddingMask(where: string, mask: Tensor | undefined, batch: number, length: number): void {
  if (mask === undefined) return;
  if (mask.dtype !== 'int32') {
    throw new DTypeError(
      `${where}: mask must be an int32 tensor of shape [${batch}, ${length}] (1 = real token, 0 = padding), got ${mask.dtype} ${formatShape(mask.shape)}; use cast(mask, 'int32').`,
    );
  }
  if (mask.rank !== 2 || mask.shape[0] !== batch || mask.shape[1] !== length) {
    throw new ShapeMismatchError(`${where}: mask must have shape [batch, length] = [${batch}, ${length}], got ${formatShape(mask.shape)}.`);
  }
  if (checkedMasks.has(mask)) return;
  const values = hostInt32Values(mask);
  if (values === undefined) return;
  for (let i = 0; i < values.length; i++) {
    const m = values[i]!;
    if (m !== 0 && m !== 1) {
      throw new InvalidArgumentError(
        `${where}: mask must hold only 1 (real token) and 0 (padding), got ${m} at [${Math.floor(i / length)}, ${i % length}]; ` +
          'build it from a comparison, which gives 0/1: e.g. notEqual(ids, scalar(padId, "int32")).',
      );
    }
  }
  if (!(mask instanceof Variable)) checkedMasks.add(mask);
}
