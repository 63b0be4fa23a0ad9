import type { Backend } from '../backend.js';
import { withBackend } from '../engine.js';
import type { Tensor } from '../tensor.js';
import { tensor } from './creation.js';

/**
 * A copy of `t` on `backend` (same shape, dtype and values; a new tensor even when `t` already lives
 * there). Ops need all their inputs on one backend: this is how a tensor made on one (e.g. the CPU)
 * reaches another (e.g. WebGPU). Asynchronous, because reading a GPU tensor is. The copy is not
 * connected to `t`'s gradient.
 *
 * @example
 * ```ts
 * const onGpu = await moveTo(ids, gpu);
 * ```
 */
export async function moveTo(t: Tensor, backend: Backend): Promise<Tensor> {
  const values = await t.data();
  // A copy of the values: a CPU backend may hand out its own storage.
  return withBackend(backend, () => tensor(values.slice(), t.shape, t.dtype));
}
