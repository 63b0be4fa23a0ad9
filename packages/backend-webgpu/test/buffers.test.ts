/** The buffer pool: size classes, reuse by class, and the cap on idle bytes. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferPool, sizeClass } from '../src/buffers.js';
import type { WebGPUBackend } from '../src/index.js';
import { createTestBackend } from './setup.js';

let be: WebGPUBackend;
beforeAll(async () => {
  be = await createTestBackend();
});
afterAll(() => be?.dispose());

describe('buffer pool', () => {
  it('size classes cover the request, are multiples of 16, and waste at most 2× (small) or 1.25× (≥ 64 KiB)', () => {
    let previous = 0;
    for (let bytes = 0; bytes < 1 << 22; bytes = Math.floor(bytes * 1.37) + 5) {
      const c = sizeClass(bytes);
      expect(c).toBeGreaterThanOrEqual(Math.max(bytes, 16));
      expect(c % 16).toBe(0);
      expect(c).toBeGreaterThanOrEqual(previous);
      if (bytes > 65536) expect(c / bytes).toBeLessThanOrEqual(1.25);
      else if (bytes >= 16) expect(c / bytes).toBeLessThanOrEqual(2);
      previous = c;
    }
  });

  it('reuses a released buffer of the same class and destroys the oldest idle ones beyond the cap', () => {
    const pool = new BufferPool(be.device, 4096);
    const a = pool.acquire(1000); // class 1024
    const b = pool.acquire(1000);
    const c = pool.acquire(3000); // class 4096
    expect(a.size).toBe(1024);
    pool.release(a);
    expect(pool.pooledBytes).toBe(1024);
    expect(pool.acquire(900)).toBe(a); // same class: reused
    expect(pool.pooledBytes).toBe(0);
    pool.release(a);
    pool.release(b);
    expect(pool.pooledBytes).toBe(2048);
    pool.release(c); // 6144 > cap: the oldest idle buffers (a, then b) are destroyed
    expect(pool.pooledBytes).toBe(4096);
    expect(pool.acquire(3000)).toBe(c);
    expect(pool.acquire(1000)).not.toBe(a);
    pool.clear();
    expect(pool.pooledBytes).toBe(0);
  });
});
