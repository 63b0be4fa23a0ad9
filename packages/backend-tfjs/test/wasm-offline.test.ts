/** The wasm backend loads offline in Node from the installed package's .wasm files. */
import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';
import { wasmPathsForNode } from '../src/node.js';
import { createWasm, tf } from './setup-wasm.js';

it('wasmPathsForNode points at the installed .wasm files', () => {
  const dir = wasmPathsForNode();
  expect(dir.endsWith('/')).toBe(true);
  expect(existsSync(`${dir}tfjs-backend-wasm.wasm`)).toBe(true);
});

it('loads without network: fetch is disabled and the backend still initialises and computes', async () => {
  const realFetch = globalThis.fetch;
  const attempted: string[] = [];
  globalThis.fetch = ((input: unknown) => {
    attempted.push(String(input));
    return Promise.reject(new Error('network disabled in this test'));
  }) as typeof fetch;
  try {
    const be = await createWasm();
    expect(be.name).toBe('tfjs-wasm');
    expect(tf.getBackend()).toBe('wasm');
    const s = be.write(Float32Array.of(1, 2, 3), 'float32');
    expect(Array.from(await be.read(s, 'float32', 3))).toEqual([1, 2, 3]);
    be.free(s);
    expect(attempted.filter((u) => /^https?:/.test(u))).toEqual([]);
  } finally {
    globalThis.fetch = realFetch;
  }
});
