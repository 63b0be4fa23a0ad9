/**
 * The Node entry finds an adapter (in CI: Mesa's llvmpipe through OpenGL ES) and reports it; this file
 * fails, never skips, on a machine without one.
 */
import { InvalidArgumentError, ReformerError, type KernelTensor } from '@reformer/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Params } from '../src/pipelines.js';
import {
  WebGPUBackend,
  WebGPUBufferTooLargeError,
  type GpuStorage,
  WebGPUDeviceLostError,
  WebGPUUnavailableError,
  WebGPUValidationError,
  createWebGPUBackend,
} from '../src/index.js';
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
    expect(be.adapterInfo.backend).toBe('opengles');
    expect(typeof be.hasTimestamps).toBe('boolean');
  });

  it('a backend on a given device reports its adapter and leaves the device alive on dispose', async () => {
    const other = await createWebGPUBackend({ device: be.device });
    expect(other.device).toBe(be.device);
    other.dispose();
    const s = be.write(Float32Array.of(5), 'float32');
    expect(Array.from(await be.read(s, 'float32', 1))).toEqual([5]);
    be.free(s);
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

describe('device errors surface as named errors on the next call', () => {
  it('a validation error in a flush: WebGPUValidationError from the next readback, then the backend works again', async () => {
    const x = be.write(Float32Array.of(1, 2), 'float32');
    const broken = {
      key: 'test:broken',
      bindings: [{ name: 'X', type: 'f32', access: 'read_write' as const }],
      source: () => 'this is not WGSL',
    };
    be.runtime.dispatch(broken, [x.buffer], new Params(), [1, 1, 1]);
    const err = await be.read(x, 'float32', 2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebGPUValidationError);
    expect((err as Error).message).toMatch(/validation/);
    expect(Array.from(await be.read(x, 'float32', 2))).toEqual([1, 2]);
    be.free(x);
  });

  it('a lost device: WebGPUDeviceLostError from every later call', async () => {
    const other = await createTestBackend();
    const x = other.write(Float32Array.of(1), 'float32');
    other.device.destroy();
    const info = await other.device.lost;
    expect(info.reason).toBe('destroyed');
    expect(() => other.fill([2], 1, 'float32')).toThrow(WebGPUDeviceLostError);
    await expect(other.read(x, 'float32', 1)).rejects.toBeInstanceOf(WebGPUDeviceLostError);
    other.free(x);
    other.dispose();
  });

  it('kernels are recorded and submitted together: one flush per readback', async () => {
    await be.sync();
    const flushes = be.runtime.flushCount;
    const dispatches = be.runtime.dispatchCount;
    const x = be.write(Float32Array.of(1, 1.001, 0.999, -1), 'float32');
    let t: KernelTensor<GpuStorage> = { storage: x, shape: [4], dtype: 'float32' };
    const made = [x];
    for (let i = 0; i < 10; i++) {
      t = be.unary('square', t);
      made.push(t.storage);
    }
    expect(be.runtime.flushCount).toBe(flushes); // nothing submitted yet
    const got = await be.read(t.storage, 'float32', 4);
    expect(be.runtime.flushCount).toBe(flushes + 1);
    expect(be.runtime.dispatchCount).toBe(dispatches + 10);
    // Ten squarings: x^1024 (float32 rounding at each step: agree to 1e-4).
    [1, 1.001, 0.999, -1].forEach((v, i) =>
      expect(Math.abs(got[i]! - Math.fround(v) ** 1024)).toBeLessThanOrEqual(1e-4 * Math.fround(v) ** 1024),
    );
    for (const s of made) be.free(s);
  });

  it('pipelines are compiled once per kernel specialisation', async () => {
    const a = be.write(new Float32Array(12), 'float32');
    const t = { storage: a, shape: [3, 4], dtype: 'float32' as const };
    const r1 = be.unary('exp', t);
    await be.sync(); // pipelines are compiled when their first dispatch is encoded
    const before = be.memory()['pipelines']!;
    const r2 = be.unary('exp', { ...t, shape: [4, 3] });
    await be.sync();
    expect(be.memory()['pipelines']).toBe(before);
    const r3 = be.unary('tanh', t);
    await be.sync();
    expect(be.memory()['pipelines']).toBe(before + 1);
    for (const s of [a, r1.storage, r2.storage, r3.storage]) be.free(s);
  });
});
