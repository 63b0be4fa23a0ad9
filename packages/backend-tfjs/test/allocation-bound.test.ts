/** The Backend contract's maxAllocationBytes on tfjs: a default per tfjs backend, an option, settable. */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { AllocationTooLargeError, InvalidArgumentError, checkAllocation } from '@reformer/core';
import { createTfjsBackend } from '../src/index.js';

describe('TfjsBackend.maxAllocationBytes', () => {
  it('defaults to 4 GiB on tfjs cpu, takes the option, and is what checkAllocation reads', async () => {
    expect((await createTfjsBackend({ tf, backendName: 'cpu' })).maxAllocationBytes).toBe(2 ** 32);
    const small = await createTfjsBackend({ tf, backendName: 'cpu', maxAllocationBytes: 1024 });
    expect(small.maxAllocationBytes).toBe(1024);
    expect(() => checkAllocation('x', 1025, '', small)).toThrow(AllocationTooLargeError);
    small.maxAllocationBytes = 2048;
    expect(() => checkAllocation('x', 1025, '', small)).not.toThrow();
  });

  it('rejects a bound that is not positive', async () => {
    await expect(async () => createTfjsBackend({ tf, backendName: 'cpu', maxAllocationBytes: 0 })).rejects.toThrow(InvalidArgumentError);
  });
});
