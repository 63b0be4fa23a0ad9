import { formatValue } from '../format.js';
import { withBackend } from '../engine.js';
import { InvalidArgumentError, ReformerError } from '../errors.js';
import { tensor } from '../ops/creation.js';
import { Tensor, type Variable } from '../tensor.js';
import { formatShape, sizeOf, type DType, type Shape } from '../types.js';
import { isShape } from '../validate.js';

/**
 * Host values of one tensor, as read from a checkpoint (for example a `HostTensor` of
 * `parseSafetensors`): a shape, the elements in row-major order and, optionally, a dtype.
 * Without `dtype`, an `Int32Array` means int32 and anything else float32.
 */
export interface HostTensorLike {
  /** One non-negative integer per axis. */
  readonly shape: readonly number[];
  /** The elements in row-major order; `values.length` must equal the product of `shape`. */
  readonly values: ArrayLike<number>;
  /** Element type of `values` (inferred when omitted). */
  readonly dtype?: DType;
}

/** One value of a state dict passed to `loadStateDict`: a tensor, or host values. */
export type StateDictValue = Tensor | HostTensorLike;

/** Options of `Module.loadStateDict` and `Optimizer.loadStateDict`. */
export interface LoadStateDictOptions {
  /**
   * When true (the default), names missing from the dict and names the target does not have are
   * errors. When false they are ignored (and returned). Shape, dtype and value mismatches are errors
   * either way.
   */
  strict?: boolean;
}

/** What `loadStateDict` did not match (always empty lists in strict mode, which throws instead). */
export interface LoadStateDictResult {
  /** Names the target has and the dict lacks (left unchanged). */
  missing: string[];
  /** Names in the dict the target does not have (ignored). */
  unexpected: string[];
}

/** A dict entry whose value cannot be loaded into the target of the same name. */
export interface StateDictMismatch {
  /** The entry's name. */
  name: string;
  /** What is wrong, e.g. `shape [3, 4] given, [4, 3] expected`. */
  reason: string;
}

/**
 * `loadStateDict` found problems. Every name is checked before anything is assigned, and every
 * problem is reported in this one error: names the dict lacks (`missing`), names the target does not
 * have (`unexpected`) and entries whose shape, dtype or values do not fit (`mismatched`). Nothing
 * was changed.
 */
export class StateDictError extends ReformerError {
  /** Names the target has and the dict lacks. */
  readonly missing: readonly string[];
  /** Names in the dict the target does not have. */
  readonly unexpected: readonly string[];
  /** Entries whose value does not fit. */
  readonly mismatched: readonly StateDictMismatch[];

  constructor(where: string, missing: string[], unexpected: string[], mismatched: StateDictMismatch[]) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing (${missing.length}): ${missing.join(', ')}`);
    if (unexpected.length) parts.push(`unexpected (${unexpected.length}): ${unexpected.join(', ')}`);
    if (mismatched.length) parts.push(`mismatched (${mismatched.length}): ${mismatched.map((m) => `${m.name}: ${m.reason}`).join('; ')}`);
    super(
      `${where}: the state dict does not fit; nothing was loaded. ${parts.join('. ')}.` +
        (missing.length || unexpected.length ? ' Pass { strict: false } to ignore missing and unexpected names.' : ''),
    );
    this.missing = missing;
    this.unexpected = unexpected;
    this.mismatched = mismatched;
  }
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Builds the value to assign to `target`, or returns why it cannot. */
type Plan = { build: () => Tensor; owned: boolean } | { reason: string };

function plan(target: Variable, value: unknown): Plan {
  if (value instanceof Tensor) {
    if (value.isDisposed) return { reason: `the tensor (#${value.id}) was disposed` };
    if (!sameShape(value.shape, target.shape))
      return { reason: `shape ${formatShape(value.shape)} given, ${formatShape(target.shape)} expected` };
    if (value.dtype !== target.dtype) return { reason: `dtype ${value.dtype} given, ${target.dtype} expected` };
    const from = value.backend;
    const to = target.backend;
    if (from === to) return { build: () => value, owned: false };
    if (!from.readSync) {
      return {
        reason: `the tensor lives on backend '${from.name}' (which reads asynchronously) and the target on '${to.name}'; pass { shape, values: await t.data() } instead`,
      };
    }
    return { build: () => withBackend(to, () => tensor(value.dataSync(), value.shape, value.dtype)), owned: true };
  }
  if (value === null || typeof value !== 'object' || !('shape' in value) || !('values' in value)) {
    return { reason: 'expected a Tensor or { shape, values }' };
  }
  const host = value as HostTensorLike;
  const shape = host.shape;
  if (!isShape(shape)) return { reason: `invalid shape ${formatValue(shape)}` };
  if (!sameShape(shape, target.shape)) return { reason: `shape ${formatShape(shape)} given, ${formatShape(target.shape)} expected` };
  const values = host.values;
  if (values === null || typeof values !== 'object' || typeof values.length !== 'number') return { reason: 'values is not an array' };
  const dtype: DType = host.dtype ?? (values instanceof Int32Array ? 'int32' : 'float32');
  if (dtype !== target.dtype) return { reason: `dtype ${dtype} given, ${target.dtype} expected` };
  if (values.length !== sizeOf(shape))
    return { reason: `${values.length} values given for shape ${formatShape(shape)} (${sizeOf(shape)} elements)` };
  const to = target.backend;
  return {
    build: () => {
      const flat = values instanceof Float32Array || values instanceof Int32Array ? values : Float32Array.from(values);
      return withBackend(to, () => tensor(flat, shape, dtype));
    },
    owned: true,
  };
}

/**
 * Assigns `source`'s entries to the variables of `targets` with the same names, after checking every
 * name, shape and dtype; throws one {@link StateDictError} listing all problems before assigning
 * anything. Tensors on the target's backend are shared (no copy); host values are uploaded.
 * @internal Shared by `Module.loadStateDict` and `Optimizer.loadStateDict`.
 */
export function loadNamedTensors(
  where: string,
  targets: ReadonlyMap<string, Variable>,
  source: ReadonlyMap<string, unknown>,
  strict: boolean,
): LoadStateDictResult {
  if (!(source instanceof Map)) throw new InvalidArgumentError(`${where}: expected a Map from names to tensors, got ${typeof source}.`);
  const missing = [...targets.keys()].filter((name) => !source.has(name));
  const unexpected = [...source.keys()].filter((name) => !targets.has(name));
  const mismatched: StateDictMismatch[] = [];
  const plans: [Variable, { build: () => Tensor; owned: boolean }][] = [];
  for (const [name, target] of targets) {
    if (!source.has(name)) continue;
    const p = plan(target, source.get(name));
    if ('reason' in p) mismatched.push({ name, reason: p.reason });
    else plans.push([target, p]);
  }
  if (mismatched.length > 0 || (strict && (missing.length > 0 || unexpected.length > 0))) {
    throw new StateDictError(where, strict ? missing : [], strict ? unexpected : [], mismatched);
  }
  for (const [target, p] of plans) {
    const value = p.build();
    target.assign(value);
    if (p.owned) value.dispose();
  }
  return { missing, unexpected };
}
