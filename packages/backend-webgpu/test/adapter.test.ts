/**
 * The Node entry finds an adapter (in CI: Mesa's llvmpipe through OpenGL ES) and reports it; this file
 * fails, never skips, on a machine without one.
 */
import { InvalidArgumentError, ReformerError } from '@reformer/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebGPUBackend, WebGPUBufferTooLargeError, WebGPUUnavailableError, createWebGPUBackend } from '../src/index.js';
import { createTestBackend } from './setup.js';

let be: WebGPUBackend;
beforeAll(async () => {
  be = await createTestBackend();
});
afterAll(() => be?.dispose());

describe('createNodeWebGPUBackend', () => {
  it('gets an adapter and reports it', () => {
    expect(be).toBeInstanceOf(WebGPUBackend);
    expect(be.name).toBe('webgpu');
    expect(typeof be.adapterInfo.description).toBe('string');
    expect(`${be.adapterInfo.vendor}${be.adapterInfo.device}${be.adapterInfo.description}`.length).toBeGreaterThan(0);
    expect(['default', 'opengles']).toContain(be.adapterInfo.backend);
    expect(typeof be.hasTimestamps).toBe('boolean');
  });

  it('round-trips float32 and int32 storage exactly, and reports pooled bytes separately', async () => {
    const f = Float32Array.of(1.5, -2, 3e-8, 7);
    const i = Int32Array.of(-2147483648, 2147483647, 0, -1);
    const sf = be.write(f, 'float32');
    const si = be.write(i, 'int32');
    expect(Array.from(await be.read(sf, 'float32', 4))).toEqual(Array.from(f));
    expect(Array.from(await be.read(si, 'int32', 4))).toEqual(Array.from(i));
    const live = be.memory().liveBytes;
    be.free(sf);
    be.free(si);
    const m = be.memory();
    expect(m.liveBytes).toBe(live - 32);
    expect(m.pooledBytes).toBeGreaterThan(0);
  });
});

describe('named errors', () => {
  it('without a GPU: WebGPUUnavailableError that says how to get an adapter', async () => {
    const noAdapter = { requestAdapter: () => Promise.resolve(null) } as unknown as GPU;
    const err = await createWebGPUBackend({ gpu: noAdapter }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebGPUUnavailableError);
    expect(err).toBeInstanceOf(ReformerError);
    expect((err as Error).message).toMatch(/EGL_PLATFORM=surfaceless/);
    expect((err as Error).message).toMatch(/Mesa/);
  });

  it('a tensor larger than maxStorageBufferBindingSize: WebGPUBufferTooLargeError with the limit', () => {
    const limit = be.device.limits.maxStorageBufferBindingSize;
    let err: unknown;
    try {
      be.fill([Math.floor(limit / 4) + 1], 0, 'float32');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WebGPUBufferTooLargeError);
    expect((err as Error).message).toContain(String(limit));
    expect(be.memory().liveBytes).toBe(0);
  });

  it('a bad crossEntropy label is reported by the next readback', async () => {
    const logits = be.write(new Float32Array(6), 'float32');
    const labels = be.write(Int32Array.of(0, 5), 'int32');
    const r = be.crossEntropy({ storage: logits, shape: [2, 3], dtype: 'float32' }, { storage: labels, shape: [2], dtype: 'int32' }, -100);
    const err = await be.read(r.loss.storage, 'float32', 2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/label 5 of row 1/);
    // Reported once.
    expect((await be.read(r.lse.storage, 'float32', 2)).length).toBe(2);
    for (const s of [logits, labels, r.loss.storage, r.lse.storage]) be.free(s);
  });
});
