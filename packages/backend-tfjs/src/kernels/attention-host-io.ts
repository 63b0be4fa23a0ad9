/**
 * Host ↔ tfjs traffic of the band attention strategy: `HostIO` (reads in place from the tfjs-wasm heap
 * through the `tfjs-internals.ts` adapter, with a `dataSync` copying fallback elsewhere, reused scratch
 * arrays, batch-1 2-D matmuls), and the typed-array copies that gather, transpose and scatter-add a band
 * group's rows on the host.
 */
import { wasmHeapOf, type WasmHeap } from '../tfjs-internals.js';
import type { TfModule, TfTensor } from '../types.js';

/** The float32 values of a tensor (one `dataSync`; converted when tfjs hands back another array type). */
export function f32(t: TfTensor): Float32Array {
  const d = t.dataSync();
  return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
}

/** The int32 values of a tensor (one `dataSync`; converted when tfjs hands back another array type). */
export function i32(t: TfTensor): Int32Array {
  const d = t.dataSync();
  return d instanceof Int32Array ? d : Int32Array.from(d as ArrayLike<number>);
}

/**
 * Host ↔ tfjs traffic of the band strategy. On tfjs-wasm, `tensor2d` copies its values into the wasm
 * heap, so host scratch arrays are reused across groups (`buf`), and results are copied straight out of
 * the heap (a `dataSync` allocates a fresh array per read, which made allocation and GC a large part
 * of the small-group time). Elsewhere (tfjs-cpu keeps the array it is given) every array is fresh.
 */
export class HostIO {
  private readonly pool = new Map<string, Float32Array>();
  /** In-place reads of the wasm heap, when the tfjs-wasm internals passed the adapter's check. */
  private readonly heap: WasmHeap | undefined;
  readonly reuse: boolean;

  constructor(private readonly tf: TfModule) {
    this.reuse = tf.getBackend() === 'wasm';
    this.heap = this.reuse ? wasmHeapOf(tf).heap : undefined;
  }

  /**
   * The float32 elements of a live input tensor: on wasm a view of the heap, taken afresh at every use
   * (a heap growth in any later allocation detaches older views; never hand one to `tensor2d`, whose
   * allocation comes before its copy), else one `dataSync` copy per tensor.
   */
  read(t: TfTensor): Float32Array {
    const view = this.heap?.view(t);
    if (view !== undefined) return view;
    let a = this.copies.get(t);
    if (a === undefined) {
      a = f32(t);
      this.copies.set(t, a);
    }
    return a;
  }

  private readonly copies = new Map<TfTensor, Float32Array>();

  /** A float32 scratch array of n elements: reused per `key` on wasm (contents kept), else fresh (zeros). */
  buf(key: string, n: number): Float32Array {
    if (!this.reuse) return new Float32Array(n);
    const k = `${key}:${n}`;
    let a = this.pool.get(k);
    if (a === undefined) {
      a = new Float32Array(n);
      this.pool.set(k, a);
    }
    return a;
  }

  /** `matMul(a [m, k], b [k, n])` (batch 1, no transposes: XNNPACK on wasm) into `out` (m·n), tensors disposed. */
  mm(a: Float32Array, b: Float32Array, m: number, k: number, n: number, out: Float32Array): Float32Array {
    const tf = this.tf;
    const ta = tf.tensor2d(a, [m, k]);
    const tb = tf.tensor2d(b, [k, n]);
    const tc = tf.matMul(ta, tb);
    const view = this.heap?.view(tc); // taken after the kernel: the heap may have grown
    out.set(view ?? f32(tc));
    ta.dispose();
    tb.dispose();
    tc.dispose();
    return out;
  }
}

/** Rows `keys` of a row-major `[*, w]` array → `[keys.length, w]`. */
export function rows(src: Float32Array, w: number, keys: Int32Array, out: Float32Array): Float32Array {
  const R = keys.length;
  for (let r = 0; r < R; r++) {
    const o = keys[r]! * w;
    const t = r * w;
    for (let j = 0; j < w; j++) out[t + j] = src[o + j]!;
  }
  return out;
}

/** `src[from … from + n)` copied into `out`. */
export function slab(src: Float32Array, from: number, n: number, out: Float32Array): Float32Array {
  out.set(src.subarray(from, from + n));
  return out;
}

/** Rows `q0 … q0 + M − 1` of a row-major `[*, w]` array, transposed → `[w, M]`. */
export function rowsT(src: Float32Array, w: number, q0: number, M: number, out: Float32Array): Float32Array {
  for (let r = 0; r < M; r++) {
    const o = (q0 + r) * w;
    for (let j = 0; j < w; j++) out[j * M + r] = src[o + j]!;
  }
  return out;
}

/** `dst[keys[r], j] += scale · src[r, j]` for a `[R, w]` block. */
export function scatterAdd(dst: Float32Array, src: Float32Array, w: number, keys: Int32Array, scale: number): void {
  const R = keys.length;
  for (let r = 0; r < R; r++) {
    const o = keys[r]! * w;
    const t = r * w;
    for (let j = 0; j < w; j++) dst[o + j] = dst[o + j]! + scale * src[t + j]!;
  }
}
