import type { Backend, KernelTensor } from './backend.js';
import { DisposedTensorError, ShapeMismatchError, DTypeError, BackendMismatchError, SyncReadError } from './errors.js';
import { state } from './state.js';
import { formatShape, sizeOf, type DType, type Shape, type TypedArray } from './types.js';

/**
 * Backend storage shared by one or more tensors (a `reshape` is a view on the same storage).
 * The storage is freed when the last tensor using it is disposed.
 * @internal
 */
export interface StorageRef {
  readonly backend: Backend;
  readonly storage: unknown;
  refs: number;
}

/**
 * An immutable n-dimensional array of `float32` or `int32` living on one backend.
 *
 * Tensors are created by ops and creation functions; they hold backend memory until `dispose()` is
 * called, directly or by the `tidy` scope they were created in.
 */
export class Tensor {
  /** Unique id, stable for the tensor's life. */
  readonly id: number;
  /** Size of each axis. */
  readonly shape: Shape;
  /** Element type. */
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;
  /** @internal */
  _ref: StorageRef | null;
  /** @internal Set by `keep()`: no `tidy` scope disposes this tensor. */
  _kept = false;

  /** @internal Use the creation functions (`tensor`, `zeros`, ...) instead. */
  constructor(ref: StorageRef, shape: Shape, dtype: DType, track = true) {
    this.id = state.nextTensorId++;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = sizeOf(shape);
    this._ref = ref;
    state.liveTensors.set(ref.backend, (state.liveTensors.get(ref.backend) ?? 0) + 1);
    if (track) state.scopes[state.scopes.length - 1]?.add(this);
  }

  /** The backend that owns this tensor's storage. */
  get backend(): Backend {
    return this.ref().backend;
  }

  /** Number of axes. */
  get rank(): number {
    return this.shape.length;
  }

  /** True once `dispose()` has run. */
  get isDisposed(): boolean {
    return this._ref === null;
  }

  /** @internal The storage reference; throws a named error after dispose. */
  ref(): StorageRef {
    if (this._ref === null) {
      throw new DisposedTensorError(
        `Tensor #${this.id} ${formatShape(this.shape)} ${this.dtype} was used after it was disposed ` +
          '(by dispose() or by the tidy() scope it was created in). Return it from the tidy() callback or ' +
          'call keep(tensor) to keep it alive.',
      );
    }
    return this._ref;
  }

  /** @internal What a kernel sees of this tensor. */
  kernelTensor(): KernelTensor {
    return { storage: this.ref().storage, shape: this.shape, dtype: this.dtype };
  }

  /** Reads the elements (row-major) into a fresh host array. */
  async data(): Promise<TypedArray> {
    const ref = this.ref();
    return ref.backend.read(ref.storage, this.dtype, this.size);
  }

  /** Reads synchronously; only backends that can (CPU) support it. */
  dataSync(): TypedArray {
    const ref = this.ref();
    if (!ref.backend.readSync) {
      throw new SyncReadError(`dataSync(): backend '${ref.backend.name}' reads asynchronously only; use 'await tensor.data()'.`);
    }
    return ref.backend.readSync(ref.storage, this.dtype, this.size);
  }

  /** Reads the value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) {
      throw new ShapeMismatchError(`item(): the tensor has shape ${formatShape(this.shape)}, not a single element.`);
    }
    return (await this.data())[0]!;
  }

  /** Frees the storage (once no other view uses it). Safe to call twice. */
  dispose(): void {
    const ref = this._ref;
    if (ref === null) return;
    this._ref = null;
    state.liveTensors.set(ref.backend, (state.liveTensors.get(ref.backend) ?? 1) - 1);
    ref.refs -= 1;
    if (ref.refs === 0) ref.backend.free(ref.storage);
  }

  /** A short description for logs: `Tensor#3 [2, 4] float32 (cpu)`. */
  toString(): string {
    return `Tensor#${this.id} ${formatShape(this.shape)} ${this.dtype} (${this._ref ? this._ref.backend.name : 'disposed'})`;
  }
}

/**
 * A tensor whose value can be replaced: model parameters and optimizer state. Variables are never
 * disposed by `tidy`; call `dispose()` when done.
 */
export class Variable extends Tensor {
  /** Dotted parameter name, when the variable belongs to a module. */
  name: string;

  /** @internal Use {@link variable}. */
  constructor(initial: Tensor, name = '') {
    const ref = initial.ref();
    ref.refs += 1;
    super(ref, initial.shape, initial.dtype, false);
    this._kept = true;
    this.name = name;
  }

  /** Replaces the value with `value`'s (same shape, dtype and backend), sharing its storage. */
  assign(value: Tensor): void {
    const what = this.name ? `Variable '${this.name}'` : `Variable #${this.id}`;
    if (value.dtype !== this.dtype) throw new DTypeError(`${what}.assign(): dtype ${value.dtype} given, ${this.dtype} expected.`);
    if (value.shape.length !== this.shape.length || value.shape.some((d, i) => d !== this.shape[i])) {
      throw new ShapeMismatchError(`${what}.assign(): shape ${formatShape(value.shape)} given, ${formatShape(this.shape)} expected.`);
    }
    const next = value.ref();
    const prev = this.ref();
    if (next.backend !== prev.backend) {
      throw new BackendMismatchError(
        `${what}.assign(): the value lives on backend '${next.backend.name}', the variable on '${prev.backend.name}'.`,
      );
    }
    next.refs += 1;
    this._ref = next;
    prev.refs -= 1;
    if (prev.refs === 0) prev.backend.free(prev.storage);
  }
}

/** Creates a {@link Variable} holding `initial`'s value (initial can be disposed afterwards). */
export function variable(initial: Tensor, name = ''): Variable {
  return new Variable(initial, name);
}
