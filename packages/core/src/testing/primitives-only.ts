import { FUSED_KERNELS, type Backend } from '../backend.js';

/**
 * A view of `backend` without its fused kernels (every member of `FUSED_KERNELS` reads as
 * `undefined`), so that the ops layer runs core's composites on the backend's primitives. It shares
 * the backend's storage and memory accounting. Run the conformance and parity suites on it to check a
 * backend's primitives alone, or core's composites on a trusted backend:
 *
 * ```ts
 * backendConformance('cpu, primitives only', () => withoutFusedKernels(createCpuBackend()));
 * ```
 */
export function withoutFusedKernels<S>(backend: Backend<S>, name = `${backend.name} (primitives only)`): Backend<S> {
  const fused = new Set<PropertyKey>(FUSED_KERNELS);
  return new Proxy(backend, {
    get(target, prop) {
      if (fused.has(prop)) return undefined;
      if (prop === 'name') return name;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
    has(target, prop) {
      return !fused.has(prop) && Reflect.has(target, prop);
    },
  });
}
