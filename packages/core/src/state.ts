import type { Backend } from './backend.js';
import type { Tensor } from './tensor.js';

/**
 * One `gradients()` call in progress: the tensors it follows and the ops recorded on them.
 * @internal
 */
export interface Tape {
  /** Ids of the tensors whose gradient is wanted or that depend on them. */
  readonly tracked: Set<number>;
  readonly nodes: TapeNode[];
}

/** One recorded op. @internal */
export interface TapeNode {
  readonly inputIds: readonly number[];
  readonly inputShapes: readonly (readonly number[])[];
  readonly outputIds: readonly number[];
  readonly outputShapes: readonly (readonly number[])[];
  /** Tape-owned handles of the tensors the backward needs (freed with the tape). */
  readonly saved: readonly Tensor[];
  readonly backward: (dys: Tensor[], saved: readonly Tensor[]) => readonly (Tensor | null | undefined)[];
}

/**
 * The engine's global state: current backend, registry, tidy scopes, tape stack, live tensor counts.
 * Kept in its own module so `tensor.ts` and `engine.ts` do not import each other at run time.
 * @internal
 */
export const state = {
  backend: null as Backend | null,
  registry: new Map<string, () => Backend | Promise<Backend>>(),
  instances: new Map<string, Backend>(),
  /** Open `tidy` scopes, innermost last. */
  scopes: [] as Set<Tensor>[],
  /** Active tapes, innermost last; `null` marks a `noGrad` region. */
  tapes: [] as (Tape | null)[],
  /** Live (not disposed) tensors per backend. */
  liveTensors: new Map<Backend, number>(),
  nextTensorId: 0,
};
