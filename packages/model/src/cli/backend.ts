/**
 * The compute backend of the commands (`reformer-train`, `reformer-generate`): `--backend wasm|cpu` and
 * `--threads N`. `wasm` (the default) is `@reformer/backend-wasm`, our WebAssembly SIMD kernels on the
 * machine's cores; `cpu` is core's TypeScript reference backend. When the wasm backend cannot start
 * (no WebAssembly SIMD, the package missing), the command says why in one line and runs on `cpu`.
 * @module
 */
import type { WasmBackend } from '@reformer/backend-wasm/node';
import { getBackend, setBackend } from '@reformer/core';

/** The values of `--backend`, the default first. */
export const BACKEND_NAMES = ['wasm', 'cpu'] as const;

/** A value of `--backend`. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** The usage lines of `--backend` and `--threads`, shared by the commands' usage texts. */
export const BACKEND_USAGE = `  --backend NAME         wasm (default: @reformer/backend-wasm, WebAssembly SIMD kernels on --threads
                         threads) | cpu (the TypeScript reference backend, one thread)
  --threads N            wasm: threads of the kernels (default: this machine's cores)
                         If wasm cannot start (no WebAssembly SIMD), one line on stderr says why and
                         the command runs on cpu.`;

/** What `--backend` and `--threads` ask for. */
export interface BackendChoice {
  backend: BackendName;
  /** `undefined`: the wasm backend's default (the machine's cores). */
  threads: number | undefined;
}

/**
 * Reads `--backend` and `--threads` as given on the command line (`undefined` when absent).
 * @param usageError - makes the command's usage error (exit status 2) from a message.
 */
export function backendChoice(
  backend: string | undefined,
  threads: string | undefined,
  usageError: (message: string) => Error,
): BackendChoice {
  const name = backend ?? BACKEND_NAMES[0];
  if (!(BACKEND_NAMES as readonly string[]).includes(name))
    throw usageError(`--backend must be one of ${BACKEND_NAMES.join(', ')}, got '${name}'.`);
  if (threads === undefined) return { backend: name as BackendName, threads: undefined };
  if (name !== 'wasm') throw usageError(`--threads is for --backend wasm (cpu runs on one thread), got --backend ${name}.`);
  if (!/^\d+$/.test(threads) || !Number.isSafeInteger(Number(threads)) || Number(threads) < 1)
    throw usageError(`--threads must be a decimal integer ≥ 1, got '${threads}'.`);
  return { backend: 'wasm', threads: Number(threads) };
}

/** The backend a command runs on, current until {@link CliBackend.dispose}. */
export interface CliBackend {
  /** The backend that runs (`cpu` also after a fallback). */
  name: BackendName;
  /** E.g. `wasm (relaxed-simd kernels, 2 threads)`. */
  description: string;
  /** Makes the previous backend current again and frees this one (terminates the wasm workers). */
  dispose(): Promise<void>;
}

/**
 * Starts the backend `choice` asks for and makes it current (before the model is built). When the wasm
 * backend cannot start, writes `<command>: …` with the reason to `err` and runs on the cpu backend.
 */
export async function startCliBackend(choice: BackendChoice, command: string, err: { write(s: string): unknown }): Promise<CliBackend> {
  const previous = getBackend();
  if (choice.backend === 'wasm') {
    let started: WasmBackend | undefined;
    try {
      // Loaded on demand: `--backend cpu` never loads the wasm kernels.
      const { createWasmBackend } = await import('@reformer/backend-wasm/node');
      started = await createWasmBackend(choice.threads !== undefined ? { threads: choice.threads } : {});
    } catch (e) {
      const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
      err.write(`${command}: the wasm backend cannot start (${why}); running on the cpu reference backend instead\n`);
    }
    if (started !== undefined) {
      const backend = started;
      const f = backend.kernelFeatures;
      if (f.threadsNote !== undefined) err.write(`${command}: ${f.threadsNote}\n`);
      await setBackend(backend);
      return {
        name: 'wasm',
        description: `wasm (${f.variant} kernels, ${f.threads === 1 ? 'one thread' : `${f.threads} threads`})`,
        dispose: async () => {
          await setBackend(previous);
          backend.dispose?.();
        },
      };
    }
  }
  await setBackend('cpu');
  return {
    name: 'cpu',
    description: 'cpu (the TypeScript reference backend, one thread)',
    dispose: async () => {
      await setBackend(previous);
    },
  };
}
