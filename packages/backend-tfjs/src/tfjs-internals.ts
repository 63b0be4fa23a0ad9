/**
 * Every use of TensorFlow.js internals (anything that is not tfjs's public API) in this package, behind
 * one adapter. Nothing else in the package may reach past the public API.
 *
 * The one internal used: on tfjs-wasm, a float32 tensor's elements live in the wasm heap, and the band
 * attention strategy reads them there instead of through `dataSync` (which allocates and copies a fresh
 * array per read; on small chunk groups that allocation was a large part of the time). It takes the
 * wasm backend's private `dataIdMap` (`dataId` → `{ memoryOffset }`, a byte offset) and its Emscripten
 * module's `wasm.HEAPF32`. Both were verified on the tfjs versions of this package's `peerDependencies`.
 *
 * A tfjs release may rename or change them. So the heap path is used only after {@link wasmHeapOf}
 * has checked, once per tfjs backend instance, that the internals exist AND behave: it writes known
 * values (and the output of a tfjs kernel), reads them back through the private path and compares
 * them bit for bit with `dataSync`. When a check fails, reads fall back to the public `dataSync` copy
 * (the same values, slower) and the backend says so in `kernelFeatures.hostReads` with the reason.
 * The data is never different: only the speed.
 */
import type { TfModule, TfTensor } from './types.js';

/** The float32 elements of tfjs-wasm tensors, read in place from the wasm heap. */
export interface WasmHeap {
  /**
   * A view of the float32 elements of `t` in the wasm heap, or `undefined` when `t` has none there
   * (another dtype, or no heap entry). Take it afresh at every use: a heap growth in any later
   * allocation detaches older views.
   */
  view(t: TfTensor): Float32Array | undefined;
}

/** How host reads of tfjs tensors are made: in place on the wasm heap, or by a `dataSync` copy. */
export type HostReads = 'wasm-heap' | 'copy';

/** The outcome of {@link wasmHeapOf}: the heap reader, or why there is none. */
export type WasmHeapProbe =
  | { readonly heap: WasmHeap; readonly hostReads: 'wasm-heap' }
  | { readonly heap: undefined; readonly hostReads: 'copy'; readonly reason: string };

/** The shape of the tfjs-wasm internals this module reads (nothing else of the backend object is used). */
interface WasmBackendInternals {
  dataIdMap: { get(id: object): { memoryOffset?: unknown } | undefined };
  wasm: { HEAPF32: Float32Array };
}

/** Probe results per tfjs backend instance (tfjs can switch backends, and each backend has its own heap). */
const probes = new WeakMap<object, WasmHeapProbe>();

/**
 * The wasm heap reader of `tf`'s current backend when it is tfjs-wasm and its internals pass the
 * check (see the module comment), else `hostReads: 'copy'` and the reason. Checked once per tfjs
 * backend instance; cheap afterwards. `backendName` (default: `tf.getBackend()`) is the tfjs backend
 * the caller runs on; on any other than `wasm` nothing of `tf` is touched.
 */
export function wasmHeapOf(tf: TfModule, backendName?: string): WasmHeapProbe {
  const name = backendName ?? tf.getBackend();
  const current = name === 'wasm' ? tf.getBackend() : name;
  if (current !== 'wasm') {
    return { heap: undefined, hostReads: 'copy', reason: `the tfjs backend is '${current}', not 'wasm': host reads use dataSync` };
  }
  const be = tf.backend() as object;
  let probe = probes.get(be);
  if (probe === undefined) {
    probe = probeWasmHeap(tf, be);
    probes.set(be, probe);
  }
  return probe;
}

function copyBecause(reason: string): WasmHeapProbe {
  return {
    heap: undefined,
    hostReads: 'copy',
    reason: `tfjs-wasm internals changed (${reason}): host reads use dataSync, correct but slower`,
  };
}

/** Values whose bits a wrong offset, stride or element type cannot reproduce (signs, ±0, a subnormal, NaN). */
const PROBE_VALUES = [1.5, -2.25, 0.1, -0, 3.4e38, 1e-40, Number.NaN, 7, -1 / 3, 65504, 2 ** -20, -8];

function probeWasmHeap(tf: TfModule, be: object): WasmHeapProbe {
  const internals = be as Partial<WasmBackendInternals>;
  if (typeof internals.dataIdMap?.get !== 'function') return copyBecause('no dataIdMap.get on the wasm backend');
  if (!(internals.wasm?.HEAPF32 instanceof Float32Array)) return copyBecause('no wasm.HEAPF32 Float32Array on the wasm backend');
  const heap = heapReader(internals as WasmBackendInternals);
  const written = tf.tensor1d(Float32Array.from(PROBE_VALUES), 'float32');
  const computed = tf.neg(written); // a kernel's output: the band strategy reads matMul results this way
  try {
    for (const [what, t] of [
      ['a written tensor', written],
      ['a kernel output', computed],
    ] as const) {
      const got = heap.view(t);
      if (got === undefined) return copyBecause(`${what} has no numeric memoryOffset in dataIdMap`);
      const want = t.dataSync() as Float32Array;
      if (!sameBits(got, want)) return copyBecause(`${what} read from HEAPF32 at memoryOffset differs from dataSync`);
    }
    return { heap, hostReads: 'wasm-heap' };
  } catch (e) {
    return copyBecause(`reading through them threw: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    written.dispose();
    computed.dispose();
  }
}

function heapReader(be: WasmBackendInternals): WasmHeap {
  return {
    view(t: TfTensor): Float32Array | undefined {
      if (t.dtype !== 'float32') return undefined;
      const offset = be.dataIdMap.get(t.dataId)?.memoryOffset;
      if (typeof offset !== 'number') return undefined;
      const heap = be.wasm.HEAPF32; // read at every use: the heap may have grown since
      const at = offset >>> 2;
      if (offset % 4 !== 0 || at + t.size > heap.length) return undefined;
      return heap.subarray(at, at + t.size);
    },
  };
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
