/**
 * The protocol between the calling thread and the kernel workers, in one small SharedArrayBuffer: a
 * header of int32 counters and a table of tasks (a kernel's arguments as float64). A job is one kernel
 * over many tasks; every thread (the caller included) claims tasks from a job-tagged counter until none
 * are left (see {@link NEXT}). Which thread runs a task does not change its result: each task writes its own outputs with
 * the loop order of the single-threaded kernel, so results are the same bits for any thread count.
 * This file has no imports: the worker entries bundle it alone.
 */

/** Int32 slots of the header. */
export const GEN = 0;
/**
 * The claim counter: `job tag << TASK_BITS | next task`, or {@link CLOSED} while the caller writes a
 * job. A thread claims task t by a compare-and-swap from the value it read, so a thread that read the
 * counter of a finished job can never claim (or run twice) a task of the next one.
 */
export const NEXT = 1;
export const DONE = 2;
export const NTASKS = 3;
export const FN = 4;
export const QUIT = 5;
/** 0, −1 while a thread writes its message, or 1 + the index of the first thread whose task threw (reset per job). */
export const ERROR = 6;
/** 0, −1 while a worker writes its message, or 1 + the index of the first worker that stopped (never reset). */
export const LOST = 7;
/** Tasks of the current job that stopped workers had claimed and will never finish. */
export const ABANDONED = 8;
/** A fault the next worker to claim a task injects (tests only): one of {@link FAULT_THROW}, {@link FAULT_STOP}. */
export const FAULT = 9;
/** The task throws (as a kernel trap would). */
export const FAULT_THROW = 1;
/** An error escapes the worker's loop while it holds a task: the worker stops. */
export const FAULT_STOP = 2;
/** Bits of {@link NEXT} that count tasks (MAX_TASKS fits), and the mask of the job tag above them. */
const TASK_BITS = 12;
const TAG_MASK = (1 << (31 - TASK_BITS)) - 1;
/** {@link NEXT} while no job is open. */
export const CLOSED = -1;
/** Float64 slot (of the header's float64 view) holding the scratch bytes of one thread. */
export const SCRATCH_STRIDE = 5;
/** UTF-16 units of a message area (its first unit holds the length). */
const MESSAGE_UNITS = 256;
/** Byte offsets of the messages of {@link ERROR} and {@link LOST}. */
export const ERROR_MESSAGE = 64;
export const LOST_MESSAGE = ERROR_MESSAGE + 2 * MESSAGE_UNITS;
/** Header bytes: int32 counters, float64 slots from byte 40, then the two message areas. */
export const HEADER_BYTES = LOST_MESSAGE + 2 * MESSAGE_UNITS;
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
  'signedArgMaxRows',
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

/** Whether this thread holds a claimed task it has not finished (each worker has its own copy of this module). */
let holding = false;

/** `e` as one line: `Name: message`. */
export function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Stores `text` (cut to the area) in the message area at byte `offset`. */
function writeMessage(control: SharedArrayBuffer, offset: number, text: string): void {
  const units = new Uint16Array(control, offset, MESSAGE_UNITS);
  const n = Math.min(text.length, MESSAGE_UNITS - 1);
  units[0] = n;
  for (let i = 0; i < n; i++) units[i + 1] = text.charCodeAt(i);
}

/** The message stored at byte `offset`. */
export function readMessage(control: SharedArrayBuffer, offset: number): string {
  const units = new Uint16Array(control, offset, MESSAGE_UNITS);
  return String.fromCharCode(...units.subarray(1, 1 + units[0]!));
}

/** Records `reason` in `slot` (ERROR or LOST) and its message area, unless another thread did first. */
function report(control: SharedArrayBuffer, slot: number, offset: number, index: number, reason: string): void {
  const ints = new Int32Array(control, 0, HEADER_BYTES / 4);
  if (Atomics.compareExchange(ints, slot, 0, -1) !== 0) return;
  writeMessage(control, offset, reason);
  Atomics.store(ints, slot, index + 1);
}

/** Closes the current job: from now on no thread claims a task until {@link openJob}. */
export function closeJob(ints: Int32Array): void {
  Atomics.store(ints, NEXT, CLOSED);
}

/** Opens the job numbered `job` (its tasks, FN and NTASKS written while it was closed) at its task 0. */
export function openJob(ints: Int32Array, job: number): void {
  Atomics.store(ints, NEXT, (job & TAG_MASK) << TASK_BITS);
}

/**
 * A ticket for the next task of the open job (the {@link NEXT} value read), or `undefined` when no job
 * is open or every task is claimed. Claim it with {@link takeTicket}.
 */
export function nextTicket(ints: Int32Array): number | undefined {
  const ticket = Atomics.load(ints, NEXT);
  if (ticket < 0 || (ticket & ((1 << TASK_BITS) - 1)) >= Atomics.load(ints, NTASKS)) return undefined;
  return ticket;
}

/**
 * Claims the task of `ticket` if the counter still holds it (no other thread took it, and its job is
 * still the open one); returns the task's index, or −1.
 */
export function takeTicket(ints: Int32Array, ticket: number): number {
  return Atomics.compareExchange(ints, NEXT, ticket, ticket + 1) === ticket ? ticket & ((1 << TASK_BITS) - 1) : -1;
}

/**
 * Claims and runs tasks of the current job until none are left (thread `index`; its scratch is
 * `scratch base + index · stride`). Returns the number of tasks this thread ran. A task that throws
 * is recorded in {@link ERROR} (the job still completes); the caller turns it into an error.
 */
export function runTasks(exports: Record<string, unknown>, control: SharedArrayBuffer, index: number): number {
  const ints = new Int32Array(control, 0, HEADER_BYTES / 4);
  const floats = new Float64Array(control);
  let ran = 0;
  for (;;) {
    const ticket = nextTicket(ints);
    if (ticket === undefined) return ran;
    const t = takeTicket(ints, ticket);
    if (t < 0) continue;
    // the job cannot change until its DONE count includes this task
    const n = Atomics.load(ints, NTASKS);
    holding = true;
    const fn = exports[POOL_KERNELS[Atomics.load(ints, FN)]!] as KernelFn;
    const base = HEADER_BYTES / 8 + t * TASK_SLOTS;
    const count = floats[base]!;
    const args = new Array<number>(count);
    for (let i = 0; i < count; i++) args[i] = floats[base + 1 + i]!;
    args[count - 1] = args[count - 1]! + index * floats[SCRATCH_STRIDE]!;
    const fault = index === 0 ? 0 : Atomics.exchange(ints, FAULT, 0);
    if (fault === FAULT_STOP) throw new Error('a fault injected by a test stopped the worker');
    try {
      if (fault === FAULT_THROW) throw new Error('a fault injected by a test');
      fn(...args);
    } catch (e) {
      report(control, ERROR, ERROR_MESSAGE, index, describe(e));
    }
    holding = false;
    ran++;
    if (Atomics.add(ints, DONE, 1) === n - 1) Atomics.notify(ints, DONE);
  }
}

/**
 * Records that worker `index` stops for `reason` (unless the pool is closing): the calling thread,
 * woken, stops waiting for a task the worker held and throws a `WasmWorkerError` saying the backend
 * must be created again.
 */
export function markLost(control: SharedArrayBuffer, index: number, reason: string): void {
  const ints = new Int32Array(control, 0, HEADER_BYTES / 4);
  if (Atomics.load(ints, QUIT) !== 0) return;
  report(control, LOST, LOST_MESSAGE, index, reason);
  if (holding) Atomics.add(ints, ABANDONED, 1);
  holding = false;
  Atomics.notify(ints, DONE);
}

/**
 * The loop of a worker: instantiates the kernels over the shared memory, reports ready through
 * `ready`, then sleeps on the job counter and runs each job's tasks until told to quit. An error that
 * escapes the loop marks the worker lost ({@link markLost}) and ends it.
 */
export function workerLoop(init: WorkerInit, ready: () => void): void {
  const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
  const exports = instance.exports as Record<string, unknown>;
  const ints = new Int32Array(init.control, 0, HEADER_BYTES / 4);
  let seen = Atomics.load(ints, GEN);
  ready();
  try {
    for (;;) {
      Atomics.wait(ints, GEN, seen);
      seen = Atomics.load(ints, GEN);
      if (Atomics.load(ints, QUIT) !== 0) return;
      runTasks(exports, init.control, init.index);
    }
  } catch (e) {
    markLost(init.control, init.index, describe(e));
  }
}
