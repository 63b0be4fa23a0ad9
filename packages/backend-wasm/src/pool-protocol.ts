/**
 * The protocol between the calling thread and the kernel workers, in one small SharedArrayBuffer: a
 * header of int32 counters and a table of tasks (a kernel's arguments as float64). A job is one kernel
 * over many tasks; every thread (the caller included) claims tasks with an atomic counter until none
 * are left. Which thread runs a task does not change its result: each task writes its own outputs with
 * the loop order of the single-threaded kernel, so results are the same bits for any thread count.
 * This file has no imports: the worker entries bundle it alone.
 */

/** Int32 slots of the header. */
export const GEN = 0;
export const NEXT = 1;
export const DONE = 2;
export const NTASKS = 3;
export const FN = 4;
export const QUIT = 5;
export const ERROR = 6;
/** Float64 slot (of the header's float64 view) holding the scratch bytes of one thread. */
export const SCRATCH_STRIDE = 4;
/** Header bytes (8 int32 counters, then float64 slots from byte 32). */
export const HEADER_BYTES = 64;
/** Float64 slots per task: the argument count, then the arguments (the last one: the scratch base). */
export const TASK_SLOTS = 32;
/** Tasks one job may hold; longer lists run as several jobs. */
export const MAX_TASKS = 2048;
/** Bytes of the control buffer. */
export const CONTROL_BYTES = HEADER_BYTES + MAX_TASKS * TASK_SLOTS * 8;

/** The kernels a job may run (index = the `FN` value). */
export const POOL_KERNELS = [
  'matmul',
  'attentionForward',
  'attentionBackward',
  'attentionBackwardPartials',
  'attentionBackwardReduce',
  'binary2d',
  'unaryFloat',
  'gatherBlocks',
  'scatterAddRowRange',
  'reduceSumRange',
  'reduceSumColumns',
  'argMaxFloat',
  'stridedCopy',
] as const;
/** One of {@link POOL_KERNELS}. */
export type PoolKernel = (typeof POOL_KERNELS)[number];

/** What a worker receives once: the compiled kernels, the shared memory, the control buffer, its index. */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  index: number;
}

type KernelFn = (...args: number[]) => void;

/**
 * Claims and runs tasks of the current job until none are left (thread `index`; its scratch is
 * `scratch base + index · stride`). Returns the number of tasks this thread ran.
 */
export function runTasks(exports: Record<string, unknown>, control: SharedArrayBuffer, index: number): number {
  const ints = new Int32Array(control, 0, HEADER_BYTES / 4);
  const floats = new Float64Array(control);
  let ran = 0;
  for (;;) {
    const t = Atomics.add(ints, NEXT, 1);
    const n = Atomics.load(ints, NTASKS);
    if (t >= n) return ran;
    const fn = exports[POOL_KERNELS[Atomics.load(ints, FN)]!] as KernelFn;
    const base = HEADER_BYTES / 8 + t * TASK_SLOTS;
    const count = floats[base]!;
    const args = new Array<number>(count);
    for (let i = 0; i < count; i++) args[i] = floats[base + 1 + i]!;
    args[count - 1] = args[count - 1]! + index * floats[SCRATCH_STRIDE]!;
    try {
      fn(...args);
    } catch {
      Atomics.store(ints, ERROR, 1);
    }
    ran++;
    if (Atomics.add(ints, DONE, 1) === n - 1) Atomics.notify(ints, DONE);
  }
}

/**
 * The loop of a worker: instantiates the kernels over the shared memory, reports ready through
 * `ready`, then sleeps on the job counter and runs each job's tasks until told to quit.
 */
export function workerLoop(init: WorkerInit, ready: () => void): void {
  const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
  const exports = instance.exports as Record<string, unknown>;
  const ints = new Int32Array(init.control, 0, HEADER_BYTES / 4);
  let seen = Atomics.load(ints, GEN);
  ready();
  for (;;) {
    Atomics.wait(ints, GEN, seen);
    seen = Atomics.load(ints, GEN);
    if (Atomics.load(ints, QUIT) !== 0) return;
    runTasks(exports, init.control, init.index);
  }
}
