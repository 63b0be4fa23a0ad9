/**
 * The one rule for sizes: before a function allocates something whose size comes from user input
 * (a config, an option, a sequence length), it asks {@link checkAllocation} whether one allocation of
 * that many bytes fits the backend's bound, and fails fast with an {@link AllocationTooLargeError}
 * that says how many bytes it would need and what to change, instead of allocating gigabytes or
 * throwing a raw `RangeError: Invalid typed array length`.
 *
 * The bound is the backend's `maxAllocationBytes` (see {@link Backend.maxAllocationBytes}); users
 * raise it there (e.g. `createCpuBackend({ maxAllocationBytes: 2 ** 34 })`), never in the caller.
 *
 * @module
 */
import type { Backend } from './backend.js';
import { getBackend } from './engine.js';
import { ReformerError } from './errors.js';

/**
 * The bound of a backend that does not declare `maxAllocationBytes`: 4 GiB in one allocation (a
 * `Float32Array` of 2^30 elements), below the typed-array limit of every current JavaScript engine.
 */
export const DEFAULT_MAX_ALLOCATION_BYTES = 2 ** 32;

/**
 * One allocation would exceed the backend's `maxAllocationBytes`. Nothing was allocated. The message
 * names what was to be allocated, the bytes it needs, the bound, and what to change.
 */
export class AllocationTooLargeError extends ReformerError {
  /** Bytes the allocation would need. */
  readonly bytes: number;
  /** The backend's bound in bytes. */
  readonly limit: number;
  /** The backend's name. */
  readonly backendName: string;

  constructor(what: string, bytes: number, limit: number, backendName: string, hint: string) {
    super(
      `${what} would need ${formatBytes(bytes)} in one allocation, more than the ${backendName} backend's ` +
        `maxAllocationBytes of ${formatBytes(limit)}. ${hint}` +
        `${hint.endsWith('.') || hint === '' ? '' : '.'} If the machine really has the memory, raise the backend's ` +
        'maxAllocationBytes (e.g. createCpuBackend({ maxAllocationBytes }) or the backend property).',
    );
    this.bytes = bytes;
    this.limit = limit;
    this.backendName = backendName;
  }
}

/** `bytes` as `123456789 bytes (117.7 MiB)`; non-finite or huge counts stay readable. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return `${bytes > 0 ? 'an unbounded number of' : 'an invalid number of'} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let scaled = bytes;
  let unit = '';
  for (const u of units) {
    if (scaled < 1024) break;
    scaled /= 1024;
    unit = u;
  }
  const exact = Number.isSafeInteger(bytes) ? String(bytes) : bytes.toExponential(3);
  return unit === '' ? `${exact} bytes` : `${exact} bytes (${scaled.toFixed(1)} ${unit})`;
}

/** The bound of one allocation on `backend` (default: the current backend). */
export function maxAllocationBytes(backend: Backend = getBackend()): number {
  const limit = backend.maxAllocationBytes;
  return typeof limit === 'number' && limit > 0 ? limit : DEFAULT_MAX_ALLOCATION_BYTES;
}

/**
 * Bytes of a float32/int32 tensor of `shape` (4 per element), computed in floating point so absurd
 * shapes give a large number instead of overflowing.
 */
export function tensorBytes(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 4);
}

/**
 * Throws {@link AllocationTooLargeError} if one allocation of `bytes` would exceed the bound of
 * `backend` (default: the current backend). Call it before allocating anything whose size the user
 * controls.
 *
 * @param what - what would be allocated, with its shape, e.g. `'fullAttention: one chunk of logits [65536, 65536]'`.
 * @param bytes - the bytes it needs.
 * @param hint - what to change to need less, e.g. `'Pass queryChunk ≤ 16384.'`.
 * @param backend - the backend that would allocate it (default: the current one).
 * @throws {AllocationTooLargeError} when `bytes` exceeds the bound (or is not a finite number).
 *
 * @example
 * ```ts
 * checkAllocation(`rotations [${H}, ${d}, ${nHashes}, ${nBuckets / 2}]`, tensorBytes([H, d, nHashes, nBuckets / 2]), 'Use fewer hashes or buckets.');
 * ```
 */
export function checkAllocation(what: string, bytes: number, hint: string, backend: Backend = getBackend()): void {
  const limit = maxAllocationBytes(backend);
  if (!(bytes <= limit)) throw new AllocationTooLargeError(what, bytes, limit, backend.name, hint);
}
