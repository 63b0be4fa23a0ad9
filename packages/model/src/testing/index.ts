/**
 * `@reformer/model/testing` — the backend parity suite: LSH attention, a reversible stack, a training
 * step, and a 2-layer Reformer LM and an encoder–decoder Reformer each trained for three steps must give
 * a reference backend's results on the backend under test. Backend packages call {@link backendParity} from a vitest file; it needs
 * `vitest` (an optional peer dependency). {@link tinyTrainer} is the small training loop their memory
 * tests run.
 * @packageDocumentation
 */
import { createCpuBackend, type Backend, type Tensor } from '@reformer/core';
import { onBackend } from '@reformer/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PARITY_WORKLOADS, type ParityWorkload } from './workloads.js';

export { PARITY_WORKLOADS, tinyTrainer, type ParityWorkload, type TinyTrainer, type TinyTrainerOptions } from './workloads.js';

/** Options of {@link backendParity}. */
export interface BackendParityOptions {
  /** Largest allowed `|got − want| / (1 + |want|)`, element-wise (default 1e-4: float32 arithmetic in another order). */
  tolerance?: number;
  /** The reference backend (default: a new CPU backend). */
  reference?: () => Backend | Promise<Backend>;
  /** Per-test timeout in ms (default 120 000; software adapters are slow). */
  timeout?: number;
  /** Disposes the backend under test after the suite (default: calls its `dispose` if it has one). */
  dispose?: (backend: Backend) => void | Promise<void>;
}

/** Reads tensors to the host and disposes them. */
async function host(ts: readonly Tensor[]): Promise<Float32Array[]> {
  try {
    return await Promise.all(ts.map(async (t) => Float32Array.from(await t.data())));
  } finally {
    for (const t of ts) t.dispose();
  }
}

/**
 * Registers a vitest `describe` block that runs every {@link PARITY_WORKLOADS} workload on the backend
 * from `factory` and on the reference, and asserts the results agree element-wise within `tolerance`,
 * the reference's sanity checks hold, and the backend's live bytes return to where they were.
 *
 * @example
 * ```ts
 * import { backendParity } from '@reformer/model/testing';
 * backendParity('webgpu', () => createNodeWebGPUBackend());
 * ```
 */
export function backendParity(name: string, factory: () => Backend | Promise<Backend>, options: BackendParityOptions = {}): void {
  const tolerance = options.tolerance ?? 1e-4;
  let backend: Backend;
  let reference: Backend;
  describe(`${name} gives the reference backend's results (parity, tolerance ${tolerance})`, () => {
    beforeAll(async () => {
      backend = await factory();
      reference = await (options.reference ?? createCpuBackend)();
    });
    afterAll(async () => {
      if (backend === undefined) return;
      if (options.dispose) await options.dispose(backend);
      else backend.dispose?.();
    });
    for (const workload of PARITY_WORKLOADS) {
      it(workload.name, async () => compare(workload, backend, reference, tolerance), options.timeout ?? 120_000);
    }
  });
}

async function compare(workload: ParityWorkload, backend: Backend, reference: Backend, tolerance: number): Promise<void> {
  const want = await host(await onBackend(reference, () => workload.run()));
  workload.sanity?.(want);
  const before = backend.memory().liveBytes;
  const got = await host(await onBackend(backend, () => workload.run()));
  expect(backend.memory().liveBytes, `${workload.name}: live bytes after`).toBe(before);
  expect(got.length, workload.name).toBe(want.length);
  got.forEach((g, i) => {
    const w = want[i]!;
    expect(g.length, `${workload.name}: result ${i} length`).toBe(w.length);
    let worst = 0;
    let at = 0;
    for (let j = 0; j < g.length; j++) {
      const e = Math.abs(g[j]! - w[j]!) / (1 + Math.abs(w[j]!));
      if (!(e <= worst)) {
        worst = e;
        at = j;
      }
    }
    expect(worst, `${workload.name}: result ${i}, element ${at}: got ${g[at]}, want ${w[at]}`).toBeLessThanOrEqual(tolerance);
  });
}
