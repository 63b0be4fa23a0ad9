/** Load-time choice of the kernel build, and the offline Node loader. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { expect, it } from 'vitest';
import { hasRelaxedSimd, hasSimd } from '../src/features.js';
import { wasmFilePath } from '../src/node.js';
import { createWasm } from './setup.js';

it('the hand-written probes agree with the engine on the real builds', () => {
  expect(hasSimd()).toBe(WebAssembly.validate(readFileSync(wasmFilePath('kernels-simd.wasm'))));
  expect(hasRelaxedSimd()).toBe(WebAssembly.validate(readFileSync(wasmFilePath('kernels-relaxed.wasm'))));
  // The test workers run with --experimental-wasm-relaxed-simd (vitest.config.ts).
  expect(hasRelaxedSimd()).toBe(true);
});

it('without relaxed SIMD in the engine the plain build is chosen, and asking for relaxed names the flag', () => {
  const script = `
    import { createWasmBackend } from '@reformer/backend-wasm/node';
    const be = await createWasmBackend();
    let message = '';
    try { await createWasmBackend({ kernels: 'relaxed-simd' }); } catch (e) { message = e.name + ': ' + e.message; }
    console.log(JSON.stringify({ features: be.kernelFeatures, message }));
    be.dispose();`;
  const out = execFileSync(process.execPath, ['--no-experimental-wasm-relaxed-simd', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  const r = JSON.parse(out.trim()) as { features: unknown; message: string };
  // threads: the default, the machine's cores
  expect(r.features).toEqual({ variant: 'simd', relaxedSimdAvailable: false, threads: availableParallelism() });
  expect(r.message).toMatch(/^InvalidArgumentError: .*relaxed-simd.*--experimental-wasm-relaxed-simd/);
});

it('picks relaxed SIMD by default when the engine has it, plain SIMD on request', async () => {
  expect((await createWasm()).kernelFeatures).toEqual({ variant: 'relaxed-simd', relaxedSimdAvailable: true, threads: 1 });
  expect((await createWasm({ kernels: 'simd' })).kernelFeatures.variant).toBe('simd');
});

it('loads offline: no fetch is made in Node', async () => {
  const realFetch = globalThis.fetch;
  const attempted: string[] = [];
  globalThis.fetch = ((input: unknown) => {
    attempted.push(String(input));
    return Promise.reject(new Error('network disabled in this test'));
  }) as typeof fetch;
  try {
    const be = await createWasm();
    const s = be.write(Float32Array.of(1, 2, 3), 'float32');
    expect(Array.from(await be.read(s, 'float32', 3))).toEqual([1, 2, 3]);
    expect(attempted).toEqual([]);
  } finally {
    globalThis.fetch = realFetch;
  }
});

it('the browser entry refuses a file: URL with a message pointing at the Node entry', async () => {
  const { createWasmBackend } = await import('../src/index.js');
  await expect(createWasmBackend({ wasmPath: new URL('file:///nowhere/') })).rejects.toThrow(/@reformer\/backend-wasm\/node/);
});

it('the built browser entry and the chunks it imports import no Node built-ins', () => {
  const read = (file: string) => readFileSync(new URL(`../dist/${file}`, import.meta.url), 'utf8');
  const entry = read('index.js');
  const chunks = [...entry.matchAll(/from ['"]\.\/([^'"]+\.js)['"]/g)].map((m) => m[1]!);
  // tsup drops the `node:` prefix, so look for Node built-ins with or without it (node.js has two).
  const builtin = /(from|import\()\s*['"](node:)?(fs|fs\/promises|module|path|url|os|child_process|worker_threads)['"]/;
  expect(read('node.js')).toMatch(builtin);
  for (const src of [entry, ...chunks.map(read)]) expect(src).not.toMatch(builtin);
  expect(entry + chunks.map(read).join('')).toContain('kernels-simd.wasm');
});
