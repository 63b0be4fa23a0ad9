/**
 * `@reformer/backend-tfjs`: the `@reformer/core` Backend contract on TensorFlow.js (wasm, cpu, webgl,
 * webgpu, and tfjs-node / tfjs-node-gpu through the `tensorflow` backend), with zero-copy interop.
 *
 * @packageDocumentation
 */
import { getBackend, InvalidArgumentError, Tensor, type Backend } from '@reformer/core';
import { TfjsBackend, type TfModule, type TfTensor, type TfjsTuning } from './backend.js';

export {
  TfjsBackend,
  type AttentionStrategy,
  type HostReads,
  type TfModule,
  type TfTensor,
  type TfjsKernelFeatures,
  type TfjsStorage,
  type TfjsTuning,
} from './backend.js';

/** Options of {@link createTfjsBackend}. */
export interface TfjsBackendOptions extends TfjsTuning {
  /** The user's `@tensorflow/tfjs-core` (or `@tensorflow/tfjs`, `@tensorflow/tfjs-node-gpu`) module. */
  tf: TfModule;
  /**
   * A tfjs backend the user registered by importing its package: `wasm`, `cpu`, `webgl`, `webgpu` or
   * `tensorflow` (tfjs-node / tfjs-node-gpu). Default: tfjs's current backend.
   */
  backendName?: string;
}

/**
 * Creates a Backend on TensorFlow.js: awaits `tf.setBackend(backendName)` and `tf.ready()`. Every call
 * returns a new instance (own memory accounting); all instances share tfjs's one global backend.
 */
export async function createTfjsBackend(options: TfjsBackendOptions): Promise<TfjsBackend> {
  const { tf } = options;
  if (options.backendName !== undefined) {
    if (tf.findBackendFactory(options.backendName) === null && tf.findBackend(options.backendName) === null) {
      throw new InvalidArgumentError(
        `createTfjsBackend: tfjs backend '${options.backendName}' is not registered; import its package (e.g. '@tensorflow/tfjs-backend-${options.backendName}') first.`,
      );
    }
    if (tf.getBackend() !== options.backendName) {
      const ok = await tf.setBackend(options.backendName);
      if (!ok) throw new InvalidArgumentError(`createTfjsBackend: tfjs backend '${options.backendName}' failed to initialise.`);
    }
  }
  await tf.ready();
  return new TfjsBackend(tf, tf.getBackend(), options);
}

function asTfjs(backend: Backend, what: string): TfjsBackend {
  if (!(backend instanceof TfjsBackend)) {
    throw new InvalidArgumentError(`${what}: backend '${backend.name}' is not a tfjs backend (create one with createTfjsBackend).`);
  }
  return backend;
}

/**
 * Wraps a tfjs tensor as a core `Tensor` on `backend` (default: the current core backend, which must be
 * a tfjs backend) WITHOUT copying: the new tensor shares the tfjs data buffer (a `tf.clone` handle).
 *
 * Ownership: the caller still owns `t` and may dispose it at any time; the returned core tensor holds
 * its own reference and is disposed through the core (`dispose()` / `tidy`).
 */
export function fromTf(t: TfTensor, backend: Backend = getBackend()): Tensor {
  const be = asTfjs(backend, 'fromTf');
  const { storage, shape, dtype } = be.adopt(t);
  return new Tensor({ backend: be, storage, refs: 1 }, shape, dtype);
}

/**
 * A tfjs tensor with the values of a core tensor. When the tensor lives on a tfjs backend this does
 * not copy: the result is a new tfjs handle sharing the same data buffer.
 *
 * Ownership: the caller owns the returned tfjs tensor and must dispose it (or create it inside a
 * `tf.tidy`); disposing it never affects the core tensor, and vice versa.
 */
export function toTf(tensor: Tensor, tf?: TfModule): TfTensor {
  const ref = tensor.ref();
  if (ref.backend instanceof TfjsBackend) return ref.backend.export(ref.storage as TfTensor, tensor.shape);
  if (tf === undefined || ref.backend.readSync === undefined) {
    throw new InvalidArgumentError(
      `toTf: the tensor lives on backend '${ref.backend.name}', not on a tfjs backend; pass the tf module for a copy from a synchronously readable backend.`,
    );
  }
  return tf.tensor(tensor.dataSync(), [...tensor.shape], tensor.dtype);
}
