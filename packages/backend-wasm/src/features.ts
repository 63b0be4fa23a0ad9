/**
 * What the engine offers, probed once at load time with tiny modules: SIMD128 (required) and relaxed
 * SIMD (optional: fused multiply-add in the inner loops).
 */

/** A module whose one function returns `f32x4.<op>` of three (or two) zero vectors. */
function probe(opcode: readonly number[], operands: number): Uint8Array<ArrayBuffer> {
  const zero = [0xfd, 0x0c, ...new Array<number>(16).fill(0)]; // v128.const 0
  const body = [0x00, ...Array.from({ length: operands }, () => zero).flat(), 0xfd, ...opcode, 0x0b];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00, // magic, version
    0x01,
    0x05,
    0x01,
    0x60,
    0x00,
    0x01,
    0x7b, // type section: () -> v128
    0x03,
    0x02,
    0x01,
    0x00, // function section
    0x0a,
    body.length + 2,
    0x01,
    body.length,
    ...body, // code section
  ]);
}

/** `f32x4.add` (0xfd 0xe4 0x01): SIMD128. */
const SIMD_PROBE = probe([0xe4, 0x01], 2);
/** `f32x4.relaxed_madd` (0xfd 0x85 0x02): relaxed SIMD. */
const RELAXED_PROBE = probe([0x85, 0x02], 3);

/** The kernel build a backend runs and why. */
export interface WasmKernelFeatures {
  /** `relaxed-simd` (fused multiply-add) or `simd` (multiply then add). */
  variant: 'relaxed-simd' | 'simd';
  /** Whether the engine validates relaxed-SIMD code. */
  relaxedSimdAvailable: boolean;
  /**
   * Threads the hot kernels (matmul, fused attention forward and backward) run on: the calling thread
   * plus `threads − 1` workers over one shared memory.
   */
  threads: number;
  /** Why fewer threads run than were asked for (e.g. no `SharedArrayBuffer` on a page without cross-origin isolation). */
  threadsNote?: string;
}

/** Whether the engine has SIMD128. */
export function hasSimd(): boolean {
  return WebAssembly.validate(SIMD_PROBE);
}

/**
 * Whether the engine validates relaxed SIMD (fused multiply-add), which `createWasmBackend` then uses.
 * On by default in Chrome ≥ 114 and Node ≥ 22; Node 20 has it behind V8's
 * `--experimental-wasm-relaxed-simd` flag.
 */
export function hasRelaxedSimd(): boolean {
  return WebAssembly.validate(RELAXED_PROBE);
}

/**
 * Why this engine cannot share a WebAssembly memory with workers, or `undefined` when it can.
 * Browsers expose `SharedArrayBuffer` only to cross-origin isolated pages.
 */
export function sharedMemoryUnavailable(): string | undefined {
  const g = globalThis as { SharedArrayBuffer?: unknown; crossOriginIsolated?: boolean };
  if (typeof g.SharedArrayBuffer !== 'function' || g.crossOriginIsolated === false) {
    return 'SharedArrayBuffer is unavailable (in a browser the page must be cross-origin isolated: serve it with "Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp"), so the kernels run on one thread.';
  }
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch {
    return 'this engine cannot create a shared WebAssembly memory, so the kernels run on one thread.';
  }
  return undefined;
}
