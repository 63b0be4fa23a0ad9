import type { Backend, KernelTensor } from './backend.js';
import { BackendMismatchError, BackendNotFoundError, ReformerError } from './errors.js';
import { state, type Tape } from './state.js';
import { Tensor, type StorageRef } from './tensor.js';
import { createCpuBackend } from './cpu/index.js';

// ---------------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------------

/**
 * Registers a backend under `name`. The factory runs on the first `setBackend(name)`.
 * Registering a name again replaces the factory (and forgets a started instance).
 */
export function registerBackend(name: string, factory: () => Backend | Promise<Backend>): void {
  state.registry.set(name, factory);
  state.instances.delete(name);
}

/** The names of all registered backends. */
export function listBackends(): string[] {
  return [...state.registry.keys()];
}

/**
 * Makes a backend current for every op that has no tensor input (creation functions) and for code
 * that asks `getBackend()`. Takes a started backend, or the name of a registered one (started on
 * first use, which may be asynchronous, e.g. WebGPU).
 */
export async function setBackend(backend: Backend | string): Promise<Backend> {
  if (typeof backend !== 'string') {
    state.backend = backend;
    return backend;
  }
  let instance = state.instances.get(backend);
  if (!instance) {
    const factory = state.registry.get(backend);
    if (!factory) {
      throw new BackendNotFoundError(
        `No backend named '${backend}' is registered (registered: ${listBackends().join(', ') || 'none'}). ` +
          'Call registerBackend(name, factory) first, or pass a backend instance to setBackend().',
      );
    }
    instance = await factory();
    state.instances.set(backend, instance);
  }
  state.backend = instance;
  return instance;
}

/** The current backend (the CPU reference backend unless another was set). */
export function getBackend(): Backend {
  if (!state.backend) {
    const cpu = state.instances.get('cpu') ?? createCpuBackend();
    state.instances.set('cpu', cpu);
    state.backend = cpu;
  }
  return state.backend as Backend;
}

/** Runs `fn` with `backend` as the current backend, restoring the previous one afterwards. */
export function withBackend<T>(backend: Backend, fn: () => T): T {
  const prev = state.backend;
  state.backend = backend;
  try {
    return fn();
  } finally {
    state.backend = prev;
  }
}

registerBackend('cpu', () => createCpuBackend());

/** Exact memory accounting of a backend (the current one by default). */
export interface MemoryInfo {
  /** The backend's name. */
  backend: string;
  /** Bytes of tensor storage alive now. */
  liveBytes: number;
  /** Most live bytes since start or since `resetPeak()`. */
  peakBytes: number;
  /** Tensors not yet disposed (views sharing storage count separately). */
  liveTensors: number;
  /** Storage allocations alive now. */
  liveBuffers: number;
  /** Backend-specific extras, e.g. pooled bytes. */
  [extra: string]: number | string;
}

/** Live and peak bytes and live tensors of a backend (the current one by default). */
export function memory(backend: Backend = getBackend()): MemoryInfo {
  return { ...backend.memory(), backend: backend.name, liveTensors: state.liveTensors.get(backend) ?? 0 };
}

/** Sets a backend's `peakBytes` to its current `liveBytes`. */
export function resetPeak(backend: Backend = getBackend()): void {
  backend.resetPeak();
}

// ---------------------------------------------------------------------------------------------
// Memory scopes
// ---------------------------------------------------------------------------------------------

/** Anything `tidy` can return: tensors, nested in arrays or plain objects, or other values. */
export type TensorContainer = unknown;

function collectTensors(value: unknown, out: Set<Tensor>, depth = 0): void {
  if (value instanceof Tensor) {
    out.add(value);
  } else if (depth < 8 && value !== null && typeof value === 'object') {
    const items = Array.isArray(value) ? value : value instanceof Map ? [...value.values()] : Object.values(value);
    for (const item of items) collectTensors(item, out, depth + 1);
  }
}

/**
 * Runs `fn` and disposes every tensor created inside it, except the tensors it returns (found in
 * arrays, maps and plain objects) and those marked with `keep`. Returned tensors belong to the
 * enclosing scope. `fn` must be synchronous.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  state.scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    state.scopes.pop();
    for (const t of scope) if (!t._kept) t.dispose();
    throw err;
  }
  state.scopes.pop();
  if (result instanceof Promise) {
    for (const t of scope) if (!t._kept) t.dispose();
    throw new ReformerError('tidy(): the callback returned a Promise; tidy scopes must be synchronous (await outside tidy).');
  }
  const returned = new Set<Tensor>();
  collectTensors(result, returned);
  const parent = state.scopes[state.scopes.length - 1];
  for (const t of scope) {
    if (returned.has(t)) parent?.add(t);
    else if (!t._kept) t.dispose();
  }
  return result;
}

/** Marks a tensor so that no `tidy` scope disposes it; returns it. */
export function keep<T extends Tensor>(t: T): T {
  t._kept = true;
  return t;
}

/** Disposes every tensor found in `value` (a tensor, or arrays/objects of tensors). */
export function dispose(value: unknown): void {
  const found = new Set<Tensor>();
  collectTensors(value, found);
  for (const t of found) t.dispose();
}

// ---------------------------------------------------------------------------------------------
// Running ops
// ---------------------------------------------------------------------------------------------

/** How an op runs: its kernel call, and how its gradient is formed. @internal */
export interface OpSpec {
  /** The op's name, for error messages. */
  readonly name: string;
  readonly inputs: readonly Tensor[];
  /**
   * Calls the backend. May return an input's own storage (a view); the engine then shares it.
   * The backend is the inputs' backend, or the current one for ops without tensor inputs.
   */
  readonly kernel: (backend: Backend, inputs: KernelTensor[]) => KernelTensor | readonly KernelTensor[];
  /**
   * Gradient: given the gradients of every output (zeros where an output got none) and the saved
   * tensors, returns one gradient (or null) per input. Written in terms of ops.
   */
  readonly backward?: (dys: Tensor[], saved: readonly Tensor[]) => readonly (Tensor | null | undefined)[];
  /** The tensors `backward` needs, chosen among inputs and outputs. Default: none. */
  readonly save?: (inputs: readonly Tensor[], outputs: readonly Tensor[]) => readonly Tensor[];
}

/** The backend all `inputs` live on (checked), or the current backend if there are none. */
export function backendOf(op: string, inputs: readonly Tensor[]): Backend {
  const first = inputs[0];
  if (!first) return getBackend();
  const backend = first.ref().backend;
  for (const t of inputs) {
    const other = t.ref().backend;
    if (other !== backend) {
      throw new BackendMismatchError(
        `${op}: inputs live on different backends ('${backend.name}' and '${other.name}'). ` +
          'Move one of them first: `await moveTo(t, backend)`.',
      );
    }
  }
  return backend;
}

/** Wraps a kernel result in a tensor, sharing the storage if it is an input's. @internal */
function wrap(backend: Backend, kt: KernelTensor, inputs: readonly Tensor[]): Tensor {
  const shared = inputs.find((t) => t.ref().storage === kt.storage);
  const ref: StorageRef = shared ? shared.ref() : { backend, storage: kt.storage, refs: 0 };
  ref.refs += 1;
  return new Tensor(ref, kt.shape, kt.dtype);
}

/** A new handle on `t`'s storage that belongs to no scope (for tapes). @internal */
export function shareUntracked(t: Tensor): Tensor {
  const ref = t.ref();
  ref.refs += 1;
  const handle = new Tensor(ref, t.shape, t.dtype, false);
  handle._kept = true;
  return handle;
}

/** The innermost recording tape, or null inside `noGrad` or outside `gradients`. @internal */
export function activeTape(): Tape | null {
  return state.tapes[state.tapes.length - 1] ?? null;
}

/** Records a node on the active tape if any input is tracked by it. @internal */
export function record(
  inputs: readonly Tensor[],
  outputs: readonly Tensor[],
  backward: NonNullable<OpSpec['backward']>,
  saved: readonly Tensor[],
): void {
  const tape = activeTape();
  if (!tape || !inputs.some((t) => tape.tracked.has(t.id))) return;
  for (const t of outputs) if (t.dtype === 'float32') tape.tracked.add(t.id);
  tape.nodes.push({
    inputIds: inputs.map((t) => t.id),
    inputShapes: inputs.map((t) => t.shape),
    outputIds: outputs.map((t) => t.id),
    outputShapes: outputs.map((t) => t.shape),
    saved: saved.map(shareUntracked),
    backward,
  });
}

/** Runs an op: checks its inputs, calls the kernel, wraps the outputs and records the gradient. @internal */
export function runOp(spec: OpSpec): Tensor[] {
  const backend = backendOf(spec.name, spec.inputs);
  const result = spec.kernel(
    backend,
    spec.inputs.map((t) => t.kernelTensor()),
  );
  const list = Array.isArray(result) ? (result as readonly KernelTensor[]) : [result as KernelTensor];
  const outputs = list.map((kt) => wrap(backend, kt, spec.inputs));
  if (spec.backward) {
    const tape = activeTape();
    if (tape && spec.inputs.some((t) => tape.tracked.has(t.id))) {
      record(spec.inputs, outputs, spec.backward, spec.save ? spec.save(spec.inputs, outputs) : []);
    }
  }
  return outputs;
}

/** Runs `fn` without recording anything for gradients (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  state.tapes.push(null);
  try {
    return fn();
  } finally {
    state.tapes.pop();
  }
}

/** Runs a single-output op. @internal */
export function runOp1(spec: OpSpec): Tensor {
  return runOp(spec)[0]!;
}
