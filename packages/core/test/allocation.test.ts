/** The allocation bound (issue 15, item 6): one rule, the backend's maxAllocationBytes, raisable. */
import { describe, expect, it } from 'vitest';
import {
  AllocationTooLargeError,
  DEFAULT_CPU_MAX_ALLOCATION_BYTES,
  DEFAULT_MAX_ALLOCATION_BYTES,
  InvalidArgumentError,
  checkAllocation,
  createCpuBackend,
  formatBytes,
  maxAllocationBytes,
  tensorBytes,
  withBackend,
  type Backend,
} from '../src/index.js';

describe('checkAllocation', () => {
  it('passes at the bound and throws one byte above it, naming what, the bytes, the bound and the hint', () => {
    const cpu = createCpuBackend({ maxAllocationBytes: 1000 });
    expect(() => checkAllocation('thing [250]', 1000, 'Use less.', cpu)).not.toThrow();
    let caught: unknown;
    try {
      checkAllocation('thing [251]', 1001, 'Use fewer things', cpu);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AllocationTooLargeError);
    const e = caught as AllocationTooLargeError;
    expect([e.bytes, e.limit, e.backendName]).toEqual([1001, 1000, 'cpu']);
    expect(e.message).toBe(
      "thing [251] would need 1001 bytes in one allocation, more than the cpu backend's maxAllocationBytes of 1000 bytes. Use fewer things. " +
        "If the machine really has the memory, raise the backend's maxAllocationBytes (e.g. createCpuBackend({ maxAllocationBytes }) or the backend property).",
    );
  });

  it('uses the current backend by default, and its bound can be raised', () => {
    const cpu = createCpuBackend({ maxAllocationBytes: 16 });
    withBackend(cpu, () => {
      expect(maxAllocationBytes()).toBe(16);
      expect(() => checkAllocation('x', 17, '')).toThrow(AllocationTooLargeError);
      cpu.maxAllocationBytes = 17;
      expect(() => checkAllocation('x', 17, '')).not.toThrow();
    });
  });

  it('non-finite sizes (absurd shapes) are rejected, never passed', () => {
    expect(() => checkAllocation('x', Number.POSITIVE_INFINITY, '')).toThrow(/an unbounded number of bytes/);
    expect(() => checkAllocation('x', Number.NaN, '')).toThrow(AllocationTooLargeError);
    expect(tensorBytes([1e200, 1e200])).toBe(Number.POSITIVE_INFINITY);
  });

  it('defaults: 4 GiB on CPU and for backends that declare no bound', () => {
    expect(createCpuBackend().maxAllocationBytes).toBe(DEFAULT_CPU_MAX_ALLOCATION_BYTES);
    expect(DEFAULT_CPU_MAX_ALLOCATION_BYTES).toBe(2 ** 32);
    const silent = { name: 'silent' } as unknown as Backend;
    expect(maxAllocationBytes(silent)).toBe(DEFAULT_MAX_ALLOCATION_BYTES);
  });

  it('createCpuBackend rejects a bound that is not a positive number', () => {
    for (const bad of [0, -1, Number.NaN, '8' as unknown as number]) {
      expect(() => createCpuBackend({ maxAllocationBytes: bad })).toThrow(InvalidArgumentError);
    }
  });

  it('formatBytes', () => {
    expect(formatBytes(1023)).toBe('1023 bytes');
    expect(formatBytes(2 ** 34)).toBe('17179869184 bytes (16.0 GiB)');
    expect(formatBytes(1e20)).toBe('1.000e+20 bytes (86.7 EiB)');
  });
});
