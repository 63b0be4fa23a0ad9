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
