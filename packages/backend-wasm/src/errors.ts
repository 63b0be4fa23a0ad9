import { ReformerError } from '@reformer/core';

/**
 * Thrown when an allocation would take the backend's WebAssembly memory past the 4 GiB a wasm32
 * address space can hold (or past the `maxMemoryBytes` option). The message says how many bytes were
 * asked for and how many are in use.
 */
export class WasmMemoryLimitError extends ReformerError {
  constructor(
    /** Bytes the failed allocation asked for. */
    readonly requestedBytes: number,
    /** Bytes of the wasm memory already in use (tensors, scratch and free blocks) when it failed. */
    readonly usedBytes: number,
    /** The limit that would have been exceeded. */
    readonly limitBytes: number,
  ) {
    super(
      `backend-wasm: cannot allocate ${requestedBytes} bytes: ${usedBytes} bytes of WebAssembly memory are in use and ` +
        `the limit is ${limitBytes} bytes (${limitBytes >= 2 ** 32 ? 'the 4 GiB of a wasm32 address space' : 'maxMemoryBytes'}). ` +
        'Free tensors you no longer need (tidy/dispose), use smaller chunks or batches, or use a backend with more memory (webgpu).',
    );
  }
}

/**
 * Thrown when a kernel fails on one of the backend's threads (a worker, or the calling thread while it
 * runs its share of a threaded kernel), or when the backend has lost a kernel worker. The message
 * names the kernel, the thread and the cause, and says what to do.
 */
export class WasmWorkerError extends ReformerError {
  constructor(
    /** The kernel that was running (e.g. `'matmul'`, `'attentionBackwardPartials'`). */
    readonly kernel: string,
    /** The thread: 0 is the calling thread, 1 … threads − 1 are the workers. */
    readonly thread: number,
    /** What went wrong on that thread (the exception it threw, or why the worker stopped). */
    readonly reason: string,
    /**
     * `true` when a worker stopped: the backend cannot run threaded kernels any more and must be
     * disposed and created again. `false` when one call failed: its outputs are invalid, the backend
     * and its threads are still usable.
     */
    readonly workerLost: boolean,
  ) {
    const where = thread === 0 ? 'the calling thread' : `kernel worker ${thread}`;
    super(
      workerLost
        ? `backend-wasm: ${where} stopped (${reason}) while the ${kernel} kernel was to run. This backend has lost a thread ` +
            'and cannot run threaded kernels any more: dispose() it and create a new one with createWasmBackend() ' +
            '(its tensors go with it; threads: 1 runs without workers).'
        : `backend-wasm: the ${kernel} kernel failed on ${where}: ${reason}. The outputs of this call are invalid; the backend ` +
            'and its threads are still usable. This is a bug of backend-wasm: please report it with the shapes of the call ' +
            '(threads: 1 shows whether it depends on the threads).',
    );
  }
}
