/**
 * Kernel-level scopes for the composites: a composite calls the primitive kernels of a backend, and
 * every intermediate it creates must be freed exactly once, while its outputs (and its inputs, which it
 * does not own) must not be. {@link kernelScope} records each storage a primitive returns and frees
 * the ones that are neither an output nor an input when the composite returns (or throws).
 *
 * @module
 */
import type { Backend, BinaryOp, KernelTensor, ReduceOp, UnaryOp } from '../backend.js';
import type { DType, Shape, TypedArray } from '../types.js';

type KT = KernelTensor;

/**
 * The primitive kernels of one backend, recording every output. Helpers (`reshape`, `scalar`,
 * `lastAxis`, ...) keep the composites short.
 */
export class Kernels {
  private readonly made: unknown[] = [];

  constructor(readonly backend: Backend) {}

  private track(t: KT): KT {
    this.made.push(t.storage);
    return t;
  }

  /** Takes ownership of a tensor made outside this scope (e.g. the result of a nested scope). */
  adopt(t: KT): KT {
    return this.track(t);
  }

  /** Frees a tensor of this scope now (it must not be used again). */
  release(t: KT): void {
    const i = this.made.indexOf(t.storage);
    if (i < 0) return;
    this.made.splice(i, 1);
    this.backend.free(t.storage);
  }

  /** Storage made in this scope so far (for the scope's cleanup). @internal */
  madeStorage(): readonly unknown[] {
    return this.made;
  }

  /** Host values as a new tensor. */
  write(values: TypedArray, shape: Shape, dtype: DType): KT {
    const storage = this.backend.write(values, dtype);
    this.made.push(storage);
    return { storage, shape: [...shape], dtype };
  }
  fill(shape: Shape, value: number, dtype: DType = 'float32'): KT {
    return this.track(this.backend.fill(shape, value, dtype));
  }
  /** A rank-0 tensor (broadcasts against anything). */
  scalar(value: number, dtype: DType = 'float32'): KT {
    return this.fill([], value, dtype);
  }
  unary(op: UnaryOp, x: KT): KT {
    return this.track(this.backend.unary(op, x));
  }
  /** `a op b` broadcast (the output shape is computed here). */
  binary(op: BinaryOp, a: KT, b: KT): KT {
    return this.track(this.backend.binary(op, a, b, broadcastShapes(a.shape, b.shape)));
  }
  where(cond: KT, a: KT, b: KT): KT {
    return this.track(this.backend.where(cond, a, b, broadcastShapes(cond.shape, broadcastShapes(a.shape, b.shape))));
  }
  cast(x: KT, dtype: DType): KT {
    return this.track(this.backend.cast(x, dtype));
  }
  reduce(op: ReduceOp, x: KT, axes: readonly number[]): KT {
    return this.track(this.backend.reduce(op, x, axes));
  }
  argMax(x: KT, axis: number): KT {
    return this.track(this.backend.argMax(x, axis));
  }
  /** Reduces the last axis and keeps it with length 1. */
  reduceLast(op: ReduceOp, x: KT): KT {
    const r = this.reduce(op, x, [x.shape.length - 1]);
    return reshape(r, [...x.shape.slice(0, -1), 1]);
  }
  matmul(a: KT, b: KT, transposeA = false, transposeB = false): KT {
    const m = a.shape[a.shape.length - (transposeA ? 1 : 2)]!;
    const n = b.shape[b.shape.length - (transposeB ? 2 : 1)]!;
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    return this.track(this.backend.matmul(a, b, transposeA, transposeB, [...batch, m, n]));
  }
  slice(x: KT, begin: readonly number[], size: readonly number[]): KT {
    return this.track(this.backend.slice(x, begin, size));
  }
  concat(xs: readonly KT[], axis: number): KT {
    return this.track(this.backend.concat(xs, axis));
  }
  gather(x: KT, indices: KT, axis: number): KT {
    return this.track(this.backend.gather(x, indices, axis));
  }
  scatterAdd(updates: KT, indices: KT, axis: number, size: number): KT {
    return this.track(this.backend.scatterAdd(updates, indices, axis, size));
  }
}

/** The same storage seen with another shape of the same size (free, as `reshape` in the core). */
export function reshape(x: KT, shape: Shape): KT {
  return { storage: x.storage, shape: [...shape], dtype: x.dtype };
}

/** NumPy broadcasting of two shapes (the ops layer has validated them). */
export function broadcastShapes(a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    out[i] = x === 1 ? y : x;
  }
  return out;
}

/** The outputs of a composite: one tensor, or an object / array of tensors. */
type Outputs = KT | readonly KT[] | Readonly<Record<string, KT>>;

function storagesOf(r: Outputs): unknown[] {
  if ('storage' in r && 'shape' in r) return [(r as KT).storage];
  return Object.values(r as Record<string, KT>).map((t) => t.storage);
}

/**
 * Runs `fn` with the primitive kernels of `backend` and frees every storage it made that is not part
 * of its result or of `inputs` — also when `fn` throws.
 */
export function kernelScope<R extends Outputs>(backend: Backend, inputs: readonly (KT | undefined)[], fn: (k: Kernels) => R): R {
  const k = new Kernels(backend);
  let result: R | undefined;
  try {
    result = fn(k);
    return result;
  } finally {
    const keep = new Set<unknown>(inputs.filter((t): t is KT => t !== undefined).map((t) => t.storage));
    if (result !== undefined) for (const s of storagesOf(result)) keep.add(s);
    const freed = new Set<unknown>();
    for (const s of k.madeStorage()) {
      if (keep.has(s) || freed.has(s)) continue;
      freed.add(s);
      backend.free(s);
    }
  }
}
