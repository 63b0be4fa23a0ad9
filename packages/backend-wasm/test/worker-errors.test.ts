/**
 * Failures on the kernel threads reach the caller as `WasmWorkerError` (never a hang, never a bare
 * `Error`): a task that throws on a worker (an injected fault, and a real out-of-bounds trap), a worker
 * that stops while it holds a task, and a worker that was terminated. A failed call releases its
 * outputs; after a task error the backend still computes, after a lost worker every threaded call says
 * the backend must be created again.
 */
import type { KernelTensor } from '@reformer/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type WasmBackend, type WasmStorage, WasmWorkerError } from '../src/index.js';
import type { KernelRunner, WasmThreadPool } from '../src/pool.js';
import { FAULT_STOP, FAULT_THROW } from '../src/pool-protocol.js';
import { createWasm } from './setup.js';

/** The runner and the pool of a backend (internals the tests reach into). */
function internals(be: WasmBackend): { runner: KernelRunner; pool: WasmThreadPool } {
  const runner = (be as unknown as { runner: KernelRunner }).runner;
  expect(runner.pool, 'the backend has worker threads').toBeDefined();
  return { runner, pool: runner.pool! };
}

/** 4M floats: `neg` splits it into 8 tasks of 512K, long enough that the worker claims some. */
const LENGTH = 1 << 22;

/** `neg` of `x` read back (one element) and released. */
function negate(be: WasmBackend, x: KernelTensor<WasmStorage>): number {
  const y = be.unary('neg', x);
  const first = be.readSync(y.storage, 'float32', 1)[0]!;
  be.free(y.storage);
  return first;
}

/** Repeats `neg` until it throws (an injected fault fires once a worker claims a task), at most 200 times. */
function firstError(be: WasmBackend, x: KernelTensor<WasmStorage>): unknown {
  for (let i = 0; i < 200; i++) {
    try {
      negate(be, x);
    } catch (e) {
      return e;
    }
  }
  return 'no error in 200 calls';
}

const backends: WasmBackend[] = [];
async function twoThreads(): Promise<{ be: WasmBackend; x: KernelTensor<WasmStorage> }> {
  const be = await createWasm({ threads: 2 });
  backends.push(be);
  expect(be.kernelFeatures.threads).toBe(2);
  const x = { storage: be.write(new Float32Array(LENGTH).fill(3), 'float32'), shape: [LENGTH], dtype: 'float32' as const };
  return { be, x };
}

afterEach(() => {
  for (const be of backends.splice(0)) be.dispose();
});

describe('errors on the kernel threads', () => {
  it('a task that throws on a worker: WasmWorkerError naming the kernel, the worker and the cause; the backend stays usable', async () => {
    const { be, x } = await twoThreads();
    internals(be).pool.injectFault(FAULT_THROW);
    const e = firstError(be, x);
    expect(e).toBeInstanceOf(WasmWorkerError);
    const error = e as WasmWorkerError;
    expect(error).toMatchObject({ name: 'WasmWorkerError', kernel: 'unaryFloat', thread: 1, workerLost: false });
    expect(error.message).toMatch(/the unaryFloat kernel failed on kernel worker 1: Error: a fault injected by a test\..*still usable/);
    expect(be.memory()).toMatchObject({ liveBytes: 4 * LENGTH, liveBuffers: 1 }); // the failed call's output was released
    expect(negate(be, x)).toBe(-3);
  });

  it('a kernel trap (memory access out of bounds) on the threads is a WasmWorkerError with the trap message', async () => {
    const { be } = await twoThreads();
    const { runner } = internals(be);
    // unaryFloat(op 0 = neg, x, out, n) at an address past the end of the memory, as 8 tasks
    const beyond = be.memory().wasmMemoryBytes! + 2 ** 20;
    const tasks = Array.from({ length: 8 }, () => [0, beyond, beyond, 1024]);
    let error: unknown;
    try {
      runner.run('unaryFloat', tasks, 0);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WasmWorkerError);
    expect((error as WasmWorkerError).workerLost).toBe(false);
    expect((error as Error).message).toMatch(
      /the unaryFloat kernel failed on (kernel worker 1|the calling thread): RuntimeError: memory access out of bounds/,
    );
  });

  it('a kernel trap on a one-thread backend is a WasmWorkerError naming the calling thread', async () => {
    const be = await createWasm({ threads: 1 });
    const runner = (be as unknown as { runner: KernelRunner }).runner;
    const beyond = be.memory().wasmMemoryBytes! + 2 ** 20;
    expect(() => runner.run('unaryFloat', [[0, beyond, beyond, 1024]], 0)).toThrow(
      /the unaryFloat kernel failed on the calling thread: RuntimeError: memory access out of bounds/,
    );
  });

  it('a worker that stops while it holds a task: no hang, WasmWorkerError saying to recreate the backend, on every later call', async () => {
    const { be, x } = await twoThreads();
    internals(be).pool.injectFault(FAULT_STOP);
    const started = Date.now();
    const e = firstError(be, x);
    expect(e).toBeInstanceOf(WasmWorkerError);
    expect(e).toMatchObject({ kernel: 'unaryFloat', thread: 1, workerLost: true });
    expect((e as Error).message).toMatch(
      /kernel worker 1 stopped \(Error: a fault injected by a test stopped the worker\).*dispose\(\) it and create a new one with createWasmBackend\(\)/,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(be.memory().liveBuffers).toBe(1); // the failed call's output was released
    expect(() => negate(be, x)).toThrow(e as Error);
    expect(be.memory().liveBuffers).toBe(1);
  });

  it('a worker that was terminated: the next threaded call throws WasmWorkerError saying to recreate the backend', async () => {
    const { be, x } = await twoThreads();
    internals(be).pool.poolWorkers[0]!.terminate();
    // The exit reaches the pool through the event loop; until then the calling thread does the work alone.
    let error: unknown;
    for (let i = 0; i < 500 && error === undefined; i++) {
      await new Promise((r) => setTimeout(r, 10));
      try {
        expect(negate(be, x)).toBe(-3);
      } catch (e) {
        error = e;
      }
    }
    expect(error).toBeInstanceOf(WasmWorkerError);
    expect(error).toMatchObject({ thread: 1, workerLost: true });
    expect((error as Error).message).toMatch(/kernel worker 1 stopped \(it exited with code 1\).*create a new one/);
  });
});
