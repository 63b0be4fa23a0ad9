/** The allocator and the heap: reuse, coalescing, growth, exact accounting and the 4 GiB error. */
import { describe, expect, it } from 'vitest';
import { WasmAllocator, ALIGN, PAGE, WASM32_LIMIT } from '../src/allocator.js';
import { WasmMemoryLimitError } from '../src/errors.js';
import { type AttentionProblem, attentionInputs, LSH_LIKE } from './helpers.js';
import { createWasm } from './setup.js';

function allocator(pages = 1, limit = 64 * PAGE) {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: limit / PAGE });
  let grown = 0;
  const a = new WasmAllocator(memory, 0, limit, () => grown++);
  return { a, memory, grown: () => grown };
}

describe('WasmAllocator', () => {
  it('hands out aligned, disjoint blocks and reuses a freed one', () => {
    const { a } = allocator();
    const p = [a.alloc(1), a.alloc(100), a.alloc(64), a.alloc(1000)];
    for (const x of p) expect(x % ALIGN).toBe(0);
    expect(new Set(p).size).toBe(4);
    expect(p[1]! - p[0]!).toBe(64);
    expect(p[2]! - p[1]!).toBe(128);
    a.free(p[1]!);
    expect(a.alloc(128)).toBe(p[1]);
  });

  it('coalesces neighbours and gives a free tail back to the top', () => {
    const { a } = allocator();
    const x = a.alloc(256);
    const y = a.alloc(256);
    const z = a.alloc(256);
    const guard = a.alloc(64);
    a.free(x);
    a.free(z);
    a.free(y); // x, y, z merge into one 768-byte block
    expect(a.freeBytes).toBe(768);
    expect(a.alloc(700)).toBe(x);
    a.free(x);
    a.free(guard); // everything is free: the top returns to the start
    expect(a.heapBytes).toBe(x);
    expect(a.freeBytes).toBe(0);
  });

  it('grows the memory (views must be re-made) and throws a named error past the limit, saying how much was asked', () => {
    const { a, memory, grown } = allocator(1, 4 * PAGE);
    const before = memory.buffer;
    const p = a.alloc(2 * PAGE);
    expect(grown()).toBe(1);
    expect(memory.buffer).not.toBe(before);
    expect(before.byteLength).toBe(0); // the old buffer is detached by growth
    expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(p + 2 * PAGE);
    let error: unknown;
    try {
      a.alloc(3 * PAGE);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WasmMemoryLimitError);
    expect((error as WasmMemoryLimitError).requestedBytes).toBe(3 * PAGE);
    expect(String((error as Error).message)).toContain(`${3 * PAGE} bytes`);
    expect(a.alloc(PAGE)).toBeGreaterThan(p); // still usable after the error
  });

  it('names the 4 GiB wasm32 address space when a request would pass it', () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const a = new WasmAllocator(memory, 0, WASM32_LIMIT, () => {});
    a.alloc(1024);
    expect(() => a.alloc(2 ** 32)).toThrow(/cannot allocate 4294967296 bytes: 1024 bytes .* in use .*4 GiB of a wasm32 address space/);
  });
});

describe('WasmBackend storage', () => {
  it('counts exact bytes, keeps data across memory growth and ignores a second free', async () => {
    const be = await createWasm();
    const small = be.write(Float32Array.of(1, 2, 3), 'float32');
    expect(be.memory()).toMatchObject({ liveBytes: 12, peakBytes: 12, liveBuffers: 1 });
    const size0 = be.memory().wasmMemoryBytes!;
    const big = be.write(new Float32Array(size0 / 4 + 1000).fill(7), 'float32'); // forces growth
    expect(be.memory().wasmMemoryBytes!).toBeGreaterThan(size0);
    expect(Array.from(be.readSync(small, 'float32', 3))).toEqual([1, 2, 3]);
    expect(be.readSync(big, 'float32', 5)).toEqual(Float32Array.of(7, 7, 7, 7, 7));
    be.free(big);
    be.free(big);
    expect(be.memory()).toMatchObject({ liveBytes: 12, liveBuffers: 1, peakBytes: 12 + (size0 + 4000) });
    be.resetPeak();
    expect(be.memory().peakBytes).toBe(12);
    be.free(small);
    expect(be.memory()).toMatchObject({ liveBytes: 0, liveBuffers: 0 });
  });

  it('a large scatter-add does not keep its double accumulators as scratch', async () => {
    const be = await createWasm();
    const n = 2 ** 20; // 8 MiB of doubles
    const updates = { storage: be.write(new Float32Array(n).fill(1), 'float32'), shape: [n], dtype: 'float32' as const };
    const indices = {
      storage: be.write(
        Int32Array.from({ length: n }, (_, i) => i),
        'int32',
      ),
      shape: [n],
      dtype: 'int32' as const,
    };
    const out = be.scatterAdd(updates, indices, 0, n);
    expect(be.readSync(out.storage, 'float32', 3)).toEqual(Float32Array.of(1, 1, 1));
    expect(be.memory().scratchBytes).toBeLessThanOrEqual(4 * 2 ** 20);
    for (const t of [updates, indices, out]) be.free(t.storage);
  });

  it('memory() counts the dK / dV terms a threaded attention backward stores while it runs (exact peak), and live bytes return to 0', async () => {
    // 8 chunks of 64, a window of 2 chunks: on threads the backward stores 8 × 128 rows of d and of dv.
    const p: AttentionProblem = { ...LSH_LIKE, d: 32, dv: 48 };
    const outputBytes = 4 * p.B * p.H * p.N * (2 * p.d + p.dv);
    const termBytes = 4 * 8 * 128 * (p.d + p.dv);
    for (const threads of [1, 2]) {
      const be = await createWasm({ threads });
      const { q, k, v, dOut, dLse, params, made } = attentionInputs(be, p);
      const { out, lse } = be.chunkedAttention!(q, k, v, params);
      const before = be.memory();
      be.resetPeak();
      const g = be.chunkedAttentionBackward!(q, k, v, out, lse, dOut, dLse, params);
      const after = be.memory();
      expect(after.liveBytes - before.liveBytes, `${threads} threads: live bytes of dq, dk, dv`).toBe(outputBytes);
      expect(after.peakBytes - before.liveBytes, `${threads} threads: peak during the backward`).toBe(
        outputBytes + (threads === 1 ? 0 : termBytes),
      );
      expect(after.liveBuffers - before.liveBuffers).toBe(3);
      for (const t of [...made, out, lse, g.dq, g.dk, g.dv]) be.free(t.storage);
      expect(be.memory()).toMatchObject({ liveBytes: 0, liveBuffers: 0 });
      be.dispose();
    }
  });

  it('int32 storage truncates floats toward zero', async () => {
    const be = await createWasm();
    const s = be.write(Float32Array.of(1.7, -1.7, 3), 'int32');
    expect(Array.from(be.readSync(s, 'int32', 3))).toEqual([1, -1, 3]);
  });

  it('a tensor past maxMemoryBytes throws WasmMemoryLimitError naming the request', async () => {
    const be = await createWasm({ maxMemoryBytes: 8 * 2 ** 20, initialMemoryBytes: 2 ** 20 });
    expect(() => be.fill([3 * 2 ** 20], 0, 'float32')).toThrow(WasmMemoryLimitError);
    expect(() => be.fill([3 * 2 ** 20], 0, 'float32')).toThrow(/cannot allocate 12582912 bytes/);
    expect(be.memory().liveBytes).toBe(0);
  });
});
