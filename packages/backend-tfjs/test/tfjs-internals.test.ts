/**
 * The tfjs internals adapter (src/tfjs-internals.ts), pinned to the supported tfjs versions.
 *
 * On the installed tfjs (which must be inside the `peerDependencies` range) the wasm heap fast path
 * must be active: a tfjs release that renames or changes the internals makes this file fail, instead
 * of the band attention silently becoming slower. When the internals are missing or answer wrongly,
 * the backend must fall back to `dataSync` copies, say so in `kernelFeatures`, and give the same values.
 */
import '@tensorflow/tfjs-backend-cpu';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { KernelTensor } from '@reformer/core';
import { describe, expect, it } from 'vitest';
import { TfjsBackend, type TfjsStorage } from '../src/backend.js';
import { createTfjsBackend } from '../src/index.js';
import { HostIO } from '../src/kernels/attention-host-io.js';
import { wasmHeapOf } from '../src/tfjs-internals.js';
import type { TfModule, TfTensor } from '../src/types.js';
import { createWasm, tf } from './setup-wasm.js';

const TFJS_PACKAGES = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-cpu'] as const;

/** `version` satisfies `range`, for the `^X.Y.Z` ranges this package declares (other forms: update this check). */
function satisfiesCaret(version: string, range: string): boolean {
  const m = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(range);
  if (m === null) throw new Error(`peer range '${range}' is not of the form ^X.Y.Z: extend satisfiesCaret`);
  const [maj, min, pat] = m.slice(1).map(Number) as [number, number, number];
  const [a, b, c] = version.split('.').map((s) => Number.parseInt(s, 10)) as [number, number, number];
  return a === maj && (b > min || (b === min && c >= pat));
}

/** The wasm backend's internals, read here only to check what the adapter returns. */
function wasmInternals(): { dataIdMap: { get(id: object): { memoryOffset: number } }; wasm: { HEAPF32: Float32Array } } {
  return tf.backend() as never;
}

/** The real tfjs module with its current (wasm) backend object replaced by `be`. */
function withBackendObject(be: object): TfModule {
  return { ...tf, backend: () => be } as unknown as TfModule;
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

describe('supported tfjs versions', () => {
  it('the installed tfjs packages are inside the peerDependencies range', () => {
    const own = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      peerDependencies: Record<string, string>;
    };
    const require = createRequire(import.meta.url);
    for (const name of TFJS_PACKAGES) {
      const range = own.peerDependencies[name];
      expect(range, `${name} is a declared peer dependency`).toBeDefined();
      const { version } = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string };
      expect(satisfiesCaret(version, range!), `${name} ${version} is inside the declared range ${range}`).toBe(true);
    }
  });
});

describe('tfjs-wasm heap reads on the installed version', () => {
  it('the internals pass the check: kernelFeatures says wasm-heap', async () => {
    const be = await createWasm();
    expect(be.kernelFeatures).toEqual({ hostReads: 'wasm-heap' });
    expect(wasmHeapOf(tf).hostReads).toBe('wasm-heap');
  });

  it('HostIO reads in place on the heap (no copy) and gets the dataSync values bit for bit', async () => {
    await createWasm();
    const values = Float32Array.from({ length: 37 }, (_, i) => Math.sin(i) * 10 ** (i % 7));
    const t = tf.tensor1d(values);
    const io = new HostIO(tf);
    const got = io.read(t);
    expect(got.buffer === wasmInternals().wasm.HEAPF32.buffer, 'a view of the wasm heap, not a copy').toBe(true);
    expect(bits(got)).toEqual(bits(t.dataSync() as Float32Array));
    // The matmul result is read from the heap as well: compare with tfjs's own matMul.
    const a = Float32Array.from({ length: 12 }, (_, i) => i - 5.5);
    const b = Float32Array.from({ length: 20 }, (_, i) => 1 / (i + 1));
    const out = io.mm(a, b, 3, 4, 5, new Float32Array(15));
    const want = tf.matMul(tf.tensor2d(a, [3, 4]), tf.tensor2d(b, [4, 5]));
    expect(bits(out)).toEqual(bits(want.dataSync() as Float32Array));
    t.dispose();
    want.dispose();
  });
});

describe('when the tfjs-wasm internals change, reads fall back to dataSync, visibly, with the same values', () => {
  const cases: [string, () => object, RegExp][] = [
    ['dataIdMap is missing', () => ({ wasm: wasmInternals().wasm }), /no dataIdMap\.get/],
    ['HEAPF32 is missing', () => ({ dataIdMap: wasmInternals().dataIdMap, wasm: {} }), /no wasm\.HEAPF32/],
    [
      'memoryOffset points at other data',
      () => {
        const real = wasmInternals();
        return { dataIdMap: { get: (id: object) => ({ memoryOffset: real.dataIdMap.get(id).memoryOffset + 4 }) }, wasm: real.wasm };
      },
      /differs from dataSync/,
    ],
    [
      'memoryOffset is not a number',
      () => ({ dataIdMap: { get: () => ({ memoryOffset: '0' }) }, wasm: wasmInternals().wasm }),
      /no numeric memoryOffset/,
    ],
  ];
  for (const [what, backendObject, reason] of cases) {
    it(what, async () => {
      await createWasm();
      const fake = withBackendObject(backendObject());
      const probe = wasmHeapOf(fake);
      expect(probe.hostReads).toBe('copy');
      expect(probe.heap).toBeUndefined();
      const be = new TfjsBackend(fake, 'wasm');
      expect(be.kernelFeatures.hostReads).toBe('copy');
      expect(be.kernelFeatures.hostReadsReason).toMatch(reason);
      const t = tf.tensor1d([1.5, -2, 3.25]);
      const got = new HostIO(fake).read(t);
      expect(got.buffer === wasmInternals().wasm.HEAPF32.buffer, 'a copy, not a view of the wasm heap').toBe(false);
      expect(Array.from(got)).toEqual([1.5, -2, 3.25]);
      t.dispose();
      be.dispose();
    });
  }

  it('the band attention gives bit-identical results through the fallback and the heap path', async () => {
    await createWasm();
    const fast = new TfjsBackend(tf, 'wasm', { attentionStrategy: 'band' });
    const slow = new TfjsBackend(withBackendObject({}), 'wasm', { attentionStrategy: 'band' });
    expect([fast.kernelFeatures.hostReads, slow.kernelFeatures.hostReads]).toEqual(['wasm-heap', 'copy']);
    const [B, H, N, d] = [1, 2, 16, 4];
    const run = (be: TfjsBackend): Uint32Array[] => {
      const make = (seed: number): KernelTensor<TfjsStorage> => ({
        storage: be.write(
          Float32Array.from({ length: B * H * N * d }, (_, i) => Math.sin(seed * 31 + i * 0.7)),
          'float32',
        ),
        shape: [B, H, N, d],
        dtype: 'float32',
      });
      const [q, k, v] = [make(1), make(2), make(3)];
      const params = { chunkLength: 4, chunksBefore: 1, chunksAfter: 0, causal: true, excludeSelf: true, scale: 0.5 };
      const { out, lse } = be.chunkedAttention(q, k, v, params);
      const g = be.chunkedAttentionBackward(
        q,
        k,
        v,
        out,
        lse,
        make(4),
        { ...lse, storage: be.write(new Float32Array(B * H * N).fill(0.25), 'float32') },
        params,
      );
      const read = (x: KernelTensor<TfjsStorage>) => bits((x.storage as TfTensor).dataSync() as Float32Array);
      const result = [out, lse, g.dq, g.dk, g.dv].map(read);
      be.dispose();
      return result;
    };
    const want = run(fast);
    const got = run(slow);
    got.forEach((x, i) => expect(x, `output ${i}`).toEqual(want[i]));
  });
});

describe('other tfjs backends', () => {
  it('cpu reads with dataSync and says why', async () => {
    const be = await createTfjsBackend({ tf, backendName: 'cpu' });
    expect(be.kernelFeatures.hostReads).toBe('copy');
    expect(be.kernelFeatures.hostReadsReason).toMatch(/'cpu', not 'wasm'/);
    await createWasm();
  });
});
