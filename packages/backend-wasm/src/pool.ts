/**
 * The calling thread's side of the kernel threads: a pool of workers over the backend's shared memory
 * (the protocol is in `pool-protocol.ts`), and {@link KernelRunner}, through which the host code of the
 * hot kernels runs its tasks — on the pool, or inline when the backend has one thread.
 */
import { WasmWorkerError } from './errors.js';
import type { WasmHeap } from './heap.js';
import type { WasmKernelExports } from './kernels.js';
import {
  ABANDONED,
  CONTROL_BYTES,
  DONE,
  ERROR,
  ERROR_MESSAGE,
  FAULT,
  FN,
  GEN,
  HEADER_BYTES,
  LOST,
  LOST_MESSAGE,
  MAX_TASKS,
  closeJob,
  NTASKS,
  POOL_KERNELS,
  QUIT,
  describe,
  openJob,
  readMessage,
  runTasks,
  SCRATCH_STRIDE,
  TASK_SLOTS,
  type PoolKernel,
  type WorkerInit,
} from './pool-protocol.js';

/** A started worker, as the entry points make one (`worker_threads` or a Web Worker). */
export interface PoolWorker {
  /** Resolves once the worker has instantiated the kernels. */
  ready: Promise<void>;
  terminate(): void;
}

/**
 * Starts one worker with `init`; supplied by the entry point. It calls `stopped` with the reason when
 * the worker ends or fails after it was ready (an exit, an uncaught error).
 */
export type SpawnWorker = (init: WorkerInit, stopped: (reason: string) => void) => PoolWorker;

/** How long the calling thread sleeps at most before it looks again for a stopped worker (ms). */
const WAIT_SLICE_MS = 50;

/** Workers sharing the backend's memory; the calling thread is thread 0 and runs tasks too. */
export class WasmThreadPool {
  private readonly ints: Int32Array;
  private readonly floats: Float64Array;
  private closed = false;
  /** The number of the last job opened (its tag in the claim counter). */
  private job = 0;
  /** A worker that stopped, as the platform reported it (its exit or error event). */
  private stopped: { thread: number; reason: string } | undefined;
  /** Set once a worker is lost: every later call throws it. */
  private failure: WasmWorkerError | undefined;

  private constructor(
    private readonly control: SharedArrayBuffer,
    private readonly workers: PoolWorker[],
    /** Whether this thread may block in `Atomics.wait` (not a browser's main thread). */
    private readonly canWait: boolean,
  ) {
    this.ints = new Int32Array(control, 0, HEADER_BYTES / 4);
    this.floats = new Float64Array(control);
    closeJob(this.ints);
  }

  /** Starts `threads − 1` workers over `memory` and waits until each has instantiated `module`. */
  static async start(module: WebAssembly.Module, memory: WebAssembly.Memory, threads: number, spawn: SpawnWorker): Promise<WasmThreadPool> {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const workers: PoolWorker[] = [];
    let pool: WasmThreadPool | undefined;
    const stopped = (thread: number) => (reason: string) => {
      if (pool !== undefined && !pool.closed) pool.stopped ??= { thread, reason };
    };
    try {
      for (let index = 1; index < threads; index++) workers.push(spawn({ module, memory, control, index }, stopped(index)));
      await Promise.all(workers.map((w) => w.ready));
    } catch (e) {
      for (const w of workers) w.terminate();
      throw e;
    }
    let canWait = true;
    try {
      Atomics.wait(new Int32Array(control, 0, 1), 0, 1, 0);
    } catch {
      canWait = false;
    }
    pool = new WasmThreadPool(control, workers, canWait);
    return pool;
  }

  /** Threads running tasks: the workers and the calling thread. */
  get threads(): number {
    return this.workers.length + 1;
  }

  /**
   * Runs `fn` over `tasks` (each an argument list without the scratch base) on every thread and
   * returns when all are done. Thread `i` gets scratch `scratch + i · stride`.
   */
  run(exports: WasmKernelExports, fn: PoolKernel, tasks: readonly (readonly number[])[], scratch: number, stride: number): void {
    this.throwIfLost(fn);
    for (let first = 0; first < tasks.length; first += MAX_TASKS) {
      const part = tasks.slice(first, first + MAX_TASKS);
      const { ints, floats } = this;
      closeJob(ints);
      floats[SCRATCH_STRIDE] = stride;
      for (let t = 0; t < part.length; t++) {
        const args = part[t]!;
        const base = HEADER_BYTES / 8 + t * TASK_SLOTS;
        floats[base] = args.length + 1;
        for (let i = 0; i < args.length; i++) floats[base + 1 + i] = args[i]!;
        floats[base + 1 + args.length] = scratch;
      }
      Atomics.store(ints, ERROR, 0);
      Atomics.store(ints, FN, POOL_KERNELS.indexOf(fn));
      Atomics.store(ints, NTASKS, part.length);
      Atomics.store(ints, DONE, 0);
      openJob(ints, ++this.job);
      Atomics.add(ints, GEN, 1);
      Atomics.notify(ints, GEN);
      runTasks(exports as unknown as Record<string, unknown>, this.control, 0);
      // Wait for the other threads' tasks; tasks held by a worker that stopped never finish.
      for (;;) {
        const done = Atomics.load(ints, DONE);
        if (done + Atomics.load(ints, ABANDONED) >= part.length) break;
        if (this.canWait) Atomics.wait(ints, DONE, done, WAIT_SLICE_MS);
      }
      this.throwIfLost(fn);
      const failed = Atomics.load(ints, ERROR);
      if (failed > 0) throw new WasmWorkerError(fn, failed - 1, readMessage(this.control, ERROR_MESSAGE), false);
    }
  }

  /**
   * Throws (every time from then on) when a worker has stopped: one that recorded it in the control
   * buffer, or one whose exit the platform reported. The other workers are terminated.
   */
  private throwIfLost(fn: PoolKernel): void {
    if (this.failure === undefined) {
      const lost = Atomics.load(this.ints, LOST);
      const stopped = lost > 0 ? { thread: lost - 1, reason: readMessage(this.control, LOST_MESSAGE) } : this.stopped;
      if (stopped === undefined) return;
      this.failure = new WasmWorkerError(fn, stopped.thread, stopped.reason, true);
      this.close();
    }
    throw this.failure;
  }

  /** @internal Tests only: the next worker to claim a task injects `fault` (`FAULT_THROW` or `FAULT_STOP`). */
  injectFault(fault: number): void {
    Atomics.store(this.ints, FAULT, fault);
  }

  /** @internal Tests only: the started workers (worker `i` is thread `i + 1`). */
  get poolWorkers(): readonly PoolWorker[] {
    return this.workers;
  }

  /** Tells the workers to quit and terminates them. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ints, QUIT, 1);
    Atomics.add(this.ints, GEN, 1);
    Atomics.notify(this.ints, GEN);
    for (const w of this.workers) w.terminate();
  }
}

/** Rounds scratch sizes so every thread's block starts on a cache line. */
function align(bytes: number): number {
  return Math.ceil(bytes / 64) * 64;
}

/** Below this many elements an element-wise op runs on the calling thread alone. */
export const SPLIT_MIN_ELEMENTS = 1 << 16;

/**
 * Splits `[0, n)` into about `4 · threads` ranges whose lengths are multiples of 4 (the last excepted),
 * so every element takes the same path (four lanes or the scalar tail) as in one unsplit call.
 */
export function splitRange(n: number, threads: number): [number, number][] {
  if (threads === 1 || n < SPLIT_MIN_ELEMENTS) return [[0, n]];
  const size = Math.ceil(n / (4 * threads) / 4) * 4;
  const ranges: [number, number][] = [];
  for (let i = 0; i < n; i += size) ranges.push([i, Math.min(n, i + size)]);
  return ranges;
}

/** Splits `n` rows into about `4 · threads` blocks of equal size (the last one shorter): `[first row, rows]` each. */
export function rowBlocks(n: number, threads: number): [number, number][] {
  const block = Math.ceil(n / Math.min(n, 4 * threads));
  const blocks: [number, number][] = [];
  for (let r0 = 0; r0 < n; r0 += block) blocks.push([r0, Math.min(block, n - r0)]);
  return blocks;
}

/** Runs the tasks of the hot kernels on the pool, or inline on one thread. */
export class KernelRunner {
  constructor(
    private readonly kernels: WasmKernelExports,
    private readonly heap: WasmHeap,
    /** @internal The workers, when the backend has more than one thread. */
    readonly pool: WasmThreadPool | undefined,
  ) {}

  /** Threads the tasks may run on. */
  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  /** Runs `fn` over `tasks`; each thread has `scratchBytes` of its own scratch (passed as the last argument). */
  run(fn: PoolKernel, tasks: readonly (readonly number[])[], scratchBytes: number): void {
    if (tasks.length === 0) return;
    const stride = align(scratchBytes);
    if (this.pool === undefined || tasks.length === 1) {
      const scratch = stride > 0 ? this.heap.scratch(stride) : 0;
      const kernel = this.kernels[fn] as unknown as (...args: number[]) => void;
      try {
        for (const args of tasks) kernel(...args, scratch);
      } catch (e) {
        throw new WasmWorkerError(fn, 0, describe(e), false);
      }
      return;
    }
    const scratch = stride > 0 ? this.heap.scratch(stride * this.pool.threads) : 0;
    this.pool.run(this.kernels, fn, tasks, scratch, stride);
  }

  /** Stops the workers. */
  close(): void {
    this.pool?.close();
  }
}
