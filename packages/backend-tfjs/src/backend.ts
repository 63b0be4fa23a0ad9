/**
 * The core `Backend` contract on TensorFlow.js. Storage is a tfjs `Tensor` (kept with `tf.keep`); every
 * kernel runs inside `tf.tidy`, so its intermediates are disposed before it returns.
 */
import {
  InvalidArgumentError,
  type ActivationOp,
  type Backend,
  type BackendMemory,
  type BinaryOp,
  type ChunkedAttentionParams,
  type DType,
  type KernelTensor,
  type ReduceOp,
  type Shape,
  type TypedArray,
  type UnaryOp,
} from '@reformer/core';
import type * as tfc from '@tensorflow/tfjs-core';
import { attentionBackward, attentionForward, type AttentionConfig, type AttentionInputs, type AttentionStrategy } from './attention.js';

export type { AttentionStrategy } from './attention.js';

/** Tuning of {@link TfjsBackend} (all optional; see `createTfjsBackend`). */
export interface TfjsTuning {
  /**
   * Upper bound in bytes of the logits one chunk group of `chunkedAttention` holds (forward and
   * backward work group by group, so the kernel's temporaries are a few times this, not the whole
   * `[B·H, nChunks, chunk, window]` logits). Default 4 MiB.
   */
  attentionGroupBytes?: number;
  /**
   * `band`: consecutive chunks as one 2-D matmul with a masked band (fast on wasm, whose batched
   * matmul is a naive loop); `batched`: one batched matmul per group. Default: `band` on `wasm`,
   * `batched` elsewhere.
   */
  attentionStrategy?: AttentionStrategy;
  /** Most chunks in one band group (default 2: 1 and 2 equally fast at L 16K on wasm, 3 and 4 slower). */
  attentionBandChunks?: number;
}

/** The `@tensorflow/tfjs-core` module (or `@tensorflow/tfjs`, or `@tensorflow/tfjs-node(-gpu)`). */
export type TfModule = typeof tfc;
/** A tfjs tensor. */
export type TfTensor = tfc.Tensor;
/** The storage handle of the tfjs backend: a kept tfjs tensor (any shape; kernels reshape it). */
export type TfjsStorage = tfc.Tensor;

type T = KernelTensor<TfjsStorage>;

/** tfjs backends on which a synchronous `dataSync` read works (webgl/webgpu are asynchronous). */
const SYNC_BACKENDS: ReadonlySet<string> = new Set(['cpu', 'wasm', 'tensorflow']);

/** Above this row length the device argsort's int32 composite key would overflow (2·n² ≥ 2³¹). */
const MAX_DEVICE_SORT = 32767;

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * `dst[to … to + n) = src[from … from + n)`: short runs by a loop (a `subarray` view per run costs
 * about a microsecond in V8, more than copying 64 floats), long ones by `set`.
 */
function copyRun(dst: Float32Array | Int32Array, to: number, src: Float32Array | Int32Array, from: number, n: number): void {
  if (n >= 256) dst.set(src.subarray(from, from + n), to);
  else for (let t = 0; t < n; t++) dst[to + t] = src[from + t]!;
}

/** Whether no target row `(o, idx[o·n + j])` occurs more than twice. */
function atMostTwice(idx: Int32Array, outer: number, n: number, size: number): boolean {
  const seen = new Uint8Array(size);
  for (let o = 0; o < outer; o++) {
    if (o > 0) seen.fill(0);
    for (let j = 0; j < n; j++) {
      const i = idx[o * n + j]!;
      if (++seen[i]! > 2) return false;
    }
  }
  return true;
}

/** `out[(o·size + idx[o·n + j])·inner + t] += src[(o·n + j)·inner + t]` (one monomorphic loop per dtype). */
function scatterAddF(out: Float64Array | Float32Array, src: Float32Array, idx: Int32Array, outer: number, n: number, size: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) {
      const to = (o * size + idx[o * n + j]!) * inner;
      const from = (o * n + j) * inner;
      for (let t = 0; t < inner; t++) out[to + t] = out[to + t]! + src[from + t]!;
    }
  }
}

function scatterAddI(out: Int32Array, src: Int32Array, idx: Int32Array, outer: number, n: number, size: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) {
      const to = (o * size + idx[o * n + j]!) * inner;
      const from = (o * n + j) * inner;
      for (let t = 0; t < inner; t++) out[to + t] = (out[to + t]! + src[from + t]!) | 0;
    }
  }
}

/** `src` of shape `from` broadcast (numpy rules, right-aligned) to `shape`, into `out`. */
function broadcastHost(src: Float32Array | Int32Array, from: readonly number[], shape: Shape, out: Float32Array | Int32Array): void {
  const rank = shape.length;
  if (rank === 0) {
    out[0] = src[0]!;
    return;
  }
  const strides = new Array<number>(rank).fill(0);
  for (let i = rank - 1, acc = 1; i >= 0; i--) {
    const si = i - (rank - from.length);
    const dim = si >= 0 ? from[si]! : 1;
    strides[i] = dim === 1 ? 0 : acc;
    acc *= dim;
  }
  const run = shape[rank - 1]!;
  const rowsN = sizeOf(shape) / run;
  const idx = new Array<number>(rank).fill(0);
  const sLast = strides[rank - 1]!;
  for (let r = 0, to = 0; r < rowsN; r++, to += run) {
    let at = 0;
    for (let i = 0; i < rank - 1; i++) at += idx[i]! * strides[i]!;
    if (sLast === 0) out.fill(src[at]!, to, to + run);
    else copyRun(out, to, src, at, run);
    for (let i = rank - 2; i >= 0; i--) {
      if (++idx[i]! < shape[i]!) break;
      idx[i] = 0;
    }
  }
}

function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * The Backend contract on TensorFlow.js. Create it with {@link createTfjsBackend}.
 *
 * Several instances may coexist (they are distinct `Backend` objects with their own accounting) but
 * they all run on tfjs's one global backend, chosen by the last `createTfjsBackend`.
 */
export class TfjsBackend implements Backend<TfjsStorage> {
  /** `tfjs-<tfjs backend name>`, e.g. `tfjs-wasm`. */
  readonly name: string;
  /** The tfjs module this backend runs on. */
  readonly tf: TfModule;
  /** The tfjs backend name (`wasm`, `cpu`, `webgl`, `webgpu`, `tensorflow`). */
  readonly backendName: string;
  /** Whether synchronous reads (`readSync`, index validation) are available. */
  readonly canReadSync: boolean;
  /** Synchronous read through `dataSync`: present only on the `cpu`, `wasm` and `tensorflow` tfjs backends. */
  readSync?: (storage: TfjsStorage, dtype: DType, size: number) => TypedArray;
  /** The chunked-attention tuning in use. */
  readonly attention: AttentionConfig;
  private readonly live = new Set<TfjsStorage>();
  private liveBytes = 0;
  private peakBytes = 0;

  /** Use {@link createTfjsBackend}. */
  constructor(tf: TfModule, backendName: string, tuning: TfjsTuning = {}) {
    this.tf = tf;
    this.canReadSync = SYNC_BACKENDS.has(backendName);
    const groupBytes = tuning.attentionGroupBytes ?? 4 * 2 ** 20;
    const bandChunks = tuning.attentionBandChunks ?? 2;
    if (!(groupBytes > 0) || !Number.isInteger(bandChunks) || bandChunks < 1) {
      throw new InvalidArgumentError(
        `TfjsBackend: attentionGroupBytes must be > 0 and attentionBandChunks an integer >= 1, got ${groupBytes} and ${bandChunks}.`,
      );
    }
    this.attention = {
      groupBytes,
      bandChunks,
      // band needs synchronous reads (host data movement): never on webgl/webgpu.
      strategy: this.canReadSync ? (tuning.attentionStrategy ?? (backendName === 'wasm' ? 'band' : 'batched')) : 'batched',
    };
    this.backendName = backendName;
    this.name = `tfjs-${backendName}`;
    if (this.canReadSync) {
      this.readSync = (storage: TfjsStorage, dtype: DType, size: number): TypedArray => convert(storage.dataSync(), dtype, size);
    }
  }

  // ---- accounting ----

  private track(t: TfjsStorage): TfjsStorage {
    if (this.live.has(t)) return t;
    this.tf.keep(t);
    this.live.add(t);
    this.liveBytes += 4 * t.size;
    if (this.liveBytes > this.peakBytes) this.peakBytes = this.liveBytes;
    return t;
  }

  /** Wraps a tfjs result as a kernel tensor (casting to `dtype` if tfjs chose another). */
  private out(t: TfTensor, shape: Shape, dtype: DType): T {
    const tf = this.tf;
    let r = t;
    if (r.dtype !== dtype) {
      const c = tf.cast(r, dtype);
      if (!this.live.has(r)) r.dispose();
      r = c;
    }
    return { storage: this.track(r), shape: [...shape], dtype };
  }

  /** The tfjs view of a kernel tensor with its logical shape (call inside `tf.tidy`). */
  private v(x: T): TfTensor {
    const s = x.storage;
    if (s.shape.length === x.shape.length && s.shape.every((d, i) => d === x.shape[i])) return s;
    return this.tf.reshape(s, [...x.shape]);
  }

  /**
   * The elements of a kernel tensor on the host (cpu and wasm only), row-major. Read from the storage
   * itself: a `v(x)` view created outside `tf.tidy` would be a tfjs tensor nobody disposes.
   */
  private hostValues(x: T): Float32Array | Int32Array {
    return x.storage.dataSync() as Float32Array | Int32Array;
  }

  /** Runs `fn` in `tf.tidy` and wraps its single result. */
  private run(shape: Shape, dtype: DType, fn: () => TfTensor): T {
    if (sizeOf(shape) === 0) return this.out(this.tf.zeros([...shape], dtype), shape, dtype);
    const r = this.tf.tidy(fn);
    return this.out(r.shape.length === shape.length ? r : this.reshapeOwned(r, shape), shape, dtype);
  }

  private reshapeOwned(r: TfTensor, shape: Shape): TfTensor {
    const s = this.tf.reshape(r, [...shape]);
    if (s !== r && !this.live.has(r)) r.dispose();
    return s;
  }

  /**
   * `t` broadcast to `shape`. float32 as `t · ones(shape)` (exact, keeps −0/NaN/±Infinity): tfjs-wasm's
   * float broadcast multiply is an XNNPACK kernel, its Tile (what `tf.broadcastTo` runs) a slow
   * per-element loop. Other dtypes use `tf.broadcastTo`.
   */
  private expand(t: TfTensor, shape: Shape): TfTensor {
    if (t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i])) return t;
    if (this.hostMoves && sizeOf(shape) > 0) {
      // A host copy of runs (cpu, wasm): `t · ones(shape)` would build and upload the ones first.
      const src = t.dataSync() as Float32Array | Int32Array;
      const out = t.dtype === 'int32' ? new Int32Array(sizeOf(shape)) : new Float32Array(sizeOf(shape));
      broadcastHost(src, t.shape, shape, out);
      return this.tf.tensor(out, [...shape], t.dtype);
    }
    if (t.dtype === 'float32') return this.tf.mul(t, this.tf.ones([...shape]));
    return this.tf.broadcastTo(t, [...shape]);
  }

  /** `t` with `shape` (itself when it has it: a tfjs reshape is a new handle, counted again in tf.memory()). */
  private shaped(t: TfTensor, shape: Shape): TfTensor {
    if (t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i])) return t;
    return this.tf.reshape(t, [...shape]);
  }

  /**
   * Whether data movement (gather, scatter-add, the band attention's blocks) is done on the host:
   * on tfjs `cpu` and `wasm` tensors live in host memory and `dataSync` is a copy, while their Gather,
   * ScatterNd, Transpose and Tile kernels compute an index per element (20–45 ns per element on wasm).
   */
  private get hostMoves(): boolean {
    return this.backendName === 'wasm' || this.backendName === 'cpu';
  }

  // ---- storage ----

  /** Copies host values into a new tfjs tensor of `dtype` (float → int truncates). */
  write(values: TypedArray, dtype: DType): TfjsStorage {
    let data: Float32Array | Int32Array;
    if (dtype === 'int32') data = values instanceof Int32Array ? values.slice() : Int32Array.from(values, Math.trunc);
    else data = values instanceof Float32Array ? values.slice() : Float32Array.from(values);
    return this.track(this.tf.tensor1d(data, dtype));
  }

  /** Reads through `await t.data()` (works on every tfjs backend). */
  async read(storage: TfjsStorage, dtype: DType, size: number): Promise<TypedArray> {
    const data = await storage.data();
    return convert(data, dtype, size);
  }


  /** Disposes the tfjs tensor (a repeated free is ignored). */
  free(storage: TfjsStorage): void {
    if (!this.live.delete(storage)) return;
    this.liveBytes -= 4 * storage.size;
    storage.dispose();
  }

  /** Exact live/peak bytes of this backend's storages; `tfjsBytes`/`tfjsTensors` are tfjs's own `tf.memory()`. */
  memory(): BackendMemory {
    const m = this.tf.memory();
    return {
      liveBytes: this.liveBytes,
      peakBytes: this.peakBytes,
      liveBuffers: this.live.size,
      tfjsBytes: m.numBytes,
      tfjsTensors: m.numTensors,
    };
  }

  resetPeak(): void {
    this.peakBytes = this.liveBytes;
  }

  /** Waits for queued tfjs work: a no-op read barrier is not needed on CPU-like backends. */
  async sync(): Promise<void> {
    await this.tf.ready();
  }

  /** Disposes every storage still live on this instance. */
  dispose(): void {
    for (const s of this.live) s.dispose();
    this.live.clear();
    this.liveBytes = 0;
  }

  // ---- interop ----

  /**
   * Wraps a tfjs tensor as storage without copying: a `tf.reshape` handle shares the data buffer (on
   * wasm `tf.clone` copies, `reshape` does not).
   */
  adopt(t: TfTensor): { storage: TfjsStorage; shape: Shape; dtype: DType } {
    if (t.dtype !== 'float32' && t.dtype !== 'int32') {
      throw new InvalidArgumentError(`fromTf: dtype '${t.dtype}' is not supported; use float32 or int32.`);
    }
    return { storage: this.track(this.shareHandle(t, t.shape)), shape: [...t.shape], dtype: t.dtype };
  }

  /** A new tfjs handle (sharing data, no copy) on `storage` with `shape`; the caller owns and disposes it. */
  export(storage: TfjsStorage, shape: Shape): TfTensor {
    return this.shareHandle(storage, shape);
  }

  /** A new tensor object on the same tfjs data buffer (reference-counted by tfjs). */
  private shareHandle(t: TfTensor, shape: Shape): TfTensor {
    const r = this.tf.reshape(t, [...shape]);
    return r === t ? this.tf.clone(t) : r;
  }

  // ---- element-wise ----

  fill(shape: Shape, value: number, dtype: DType): T {
    const v = dtype === 'int32' ? Math.trunc(value) : value;
    return this.out(this.tf.fill([...shape], v, dtype), shape, dtype);
  }

  unary(op: UnaryOp, x: T): T {
    const tf = this.tf;
    return this.run(x.shape, x.dtype, () => {
      const a = this.v(x);
      if (x.dtype === 'int32') {
        switch (op) {
          case 'neg':
            return tf.sub(tf.scalar(0, 'int32'), a);
          case 'abs':
            return tf.abs(a);
          case 'sign':
            return tf.sub(tf.cast(tf.greater(a, 0), 'int32'), tf.cast(tf.less(a, 0), 'int32'));
          case 'square':
            return tf.mul(a, a);
          default:
            return tf.cast(this.unaryFloat(op, tf.cast(a, 'float32')), 'int32');
        }
      }
      return this.unaryFloat(op, a);
    });
  }

  private unaryFloat(op: UnaryOp, a: TfTensor): TfTensor {
    const tf = this.tf;
    switch (op) {
      case 'neg':
        return tf.neg(a);
      case 'abs':
        return tf.abs(a);
      case 'sign': // tf.sign flushes tiny values to 0 on wasm
        return tf.where(tf.isNaN(a), a, tf.sub(tf.cast(tf.greater(a, 0), 'float32'), tf.cast(tf.less(a, 0), 'float32')));
      case 'exp':
        return tf.exp(a);
      case 'log':
        return tf.log(a);
      case 'sqrt':
        return tf.sqrt(a);
      case 'rsqrt':
        return tf.div(1, tf.sqrt(a));
      case 'square':
        return tf.mul(a, a);
      case 'reciprocal':
        return tf.div(1, a);
      case 'tanh':
        return tf.tanh(a);
      case 'sigmoid':
        return tf.sigmoid(a);
      case 'erf':
        return tf.erf(a);
      case 'sin':
        return tf.sin(a);
      case 'cos':
        return tf.cos(a);
      case 'floor':
        return tf.floor(a);
      case 'ceil':
        return tf.ceil(a);
      case 'round':
        return this.roundHalfEven(a);
      case 'relu':
        return tf.where(tf.less(a, 0), tf.zerosLike(a), a);
      case 'gelu':
        return tf.mul(tf.mul(a, 0.5), tf.add(1, tf.erf(tf.mul(a, SQRT1_2))));
      default:
        throw new Error(`tfjs unary: unknown op '${String(op satisfies never)}'`);
    }
  }

  /** Round half to even, built from floor (tfjs backends differ in their `round`). */
  private roundHalfEven(a: TfTensor): TfTensor {
    const tf = this.tf;
    const f = tf.floor(a);
    const diff = tf.sub(a, f);
    const up = tf.add(f, 1);
    // Is floor even? f − 2·floor(f/2) == 0.
    const fEven = tf.equal(tf.sub(f, tf.mul(tf.floor(tf.div(f, 2)), 2)), 0);
    const half = tf.where(fEven, f, up);
    const r = tf.where(tf.less(diff, 0.5), f, tf.where(tf.greater(diff, 0.5), up, half));
    // Keep non-finite values (floor(±Inf) = ±Inf already; NaN stays NaN through where on NaN diff → up).
    return tf.where(tf.isFinite(a), r, a);
  }

  binary(op: BinaryOp, a: T, b: T, outShape: Shape): T {
    const tf = this.tf;
    const compare = op === 'equal' || op === 'notEqual' || op === 'less' || op === 'lessEqual' || op === 'greater' || op === 'greaterEqual';
    const dtype: DType = compare ? 'int32' : a.dtype;
    if (this.hostMoves && a.dtype === 'int32' && sizeOf(outShape) > 0) return this.hostIntBinary(op, a, b, outShape);
    return this.run(outShape, dtype, () => {
      const x = this.v(a);
      const y = this.v(b);
      let r: TfTensor;
      switch (op) {
        case 'equal':
          r = tf.equal(x, y);
          break;
        case 'notEqual':
          r = tf.notEqual(x, y);
          break;
        case 'less':
          r = tf.less(x, y);
          break;
        case 'lessEqual':
          r = tf.lessEqual(x, y);
          break;
        case 'greater':
          r = tf.greater(x, y);
          break;
        case 'greaterEqual':
          r = tf.greaterEqual(x, y);
          break;
        case 'add':
          r = tf.add(x, y);
          break;
        case 'sub':
          r = tf.sub(x, y);
          break;
        case 'mul':
          r = tf.mul(x, y);
          break;
        case 'maximum':
          r = tf.maximum(x, y);
          break;
        case 'minimum':
          r = tf.minimum(x, y);
          break;
        case 'pow':
          r = a.dtype === 'int32' ? tf.cast(tf.pow(tf.cast(x, 'float32'), tf.cast(y, 'float32')), 'int32') : tf.pow(x, y);
          break;
        case 'div':
          r = a.dtype === 'int32' ? this.intFloorDiv(x, y) : tf.div(x, y);
          break;
        case 'floorDiv':
          r = a.dtype === 'int32' ? this.intFloorDiv(x, y) : tf.floor(tf.div(x, y));
          break;
        case 'mod':
          r = a.dtype === 'int32' ? this.intMod(x, y) : this.floatMod(x, y);
          break;
        default:
          throw new Error(`tfjs binary: unknown op '${String(op satisfies never)}'`);
      }
      return this.expand(r, outShape);
    });
  }

  /**
   * int32 arithmetic and comparisons on the host (cpu, wasm): tfjs-wasm's int32 kernels are generic
   * per-element paths (an int32 broadcast `Sub` of 4M elements: 240 ms), and floor division / Python
   * modulo would take a dozen of them. Results wrap to 32 bits; division or modulo by 0 gives 0.
   */
  private hostIntBinary(op: BinaryOp, a: T, b: T, outShape: Shape): T {
    const x = this.hostValues(a) as Int32Array;
    const y = this.hostValues(b) as Int32Array;
    const rank = outShape.length;
    const stridesOf = (shape: Shape): number[] => {
      const st = new Array<number>(rank).fill(0);
      let acc = 1;
      for (let i = shape.length - 1, j = rank - 1; i >= 0; i--, j--) {
        st[j] = shape[i] === 1 ? 0 : acc;
        acc *= shape[i]!;
      }
      return st;
    };
    const sa = stridesOf(a.shape);
    const sb = stridesOf(b.shape);
    const f = intOp(op);
    const n = sizeOf(outShape);
    const out = new Int32Array(n);
    const idx = new Array<number>(rank).fill(0);
    let ia = 0;
    let ib = 0;
    for (let o = 0; o < n; o++) {
      out[o] = f(x[ia]!, y[ib]!);
      for (let d = rank - 1; d >= 0; d--) {
        ia += sa[d]!;
        ib += sb[d]!;
        if (++idx[d]! < outShape[d]!) break;
        ia -= sa[d]! * outShape[d]!;
        ib -= sb[d]! * outShape[d]!;
        idx[d] = 0;
      }
    }
    return this.out(this.tf.tensor(out, [...outShape], 'int32'), outShape, 'int32');
  }

  /** int32 floor division; division by 0 gives 0. Computed exactly in int32 arithmetic. */
  private intFloorDiv(x: TfTensor, y: TfTensor): TfTensor {
    const tf = this.tf;
    const zero = tf.equal(y, 0);
    const ySafe = tf.where(zero, tf.onesLike(y), y);
    // Truncated quotient from float division is exact for |x| < 2^24; correct it with the remainder.
    let q = tf.cast(tf.floor(tf.div(tf.cast(x, 'float32'), tf.cast(ySafe, 'float32'))), 'int32');
    // Fix off-by-one from float rounding: r = x − q·y must satisfy 0 ≤ r/y < 1 (sign of y).
    const r = tf.sub(x, tf.mul(q, ySafe));
    const yPos = tf.greater(ySafe, 0);
    const tooBig = tf.logicalOr(tf.logicalAnd(yPos, tf.greaterEqual(r, ySafe)), tf.logicalAnd(tf.logicalNot(yPos), tf.lessEqual(r, ySafe)));
    const tooSmall = tf.logicalOr(tf.logicalAnd(yPos, tf.less(r, 0)), tf.logicalAnd(tf.logicalNot(yPos), tf.greater(r, 0)));
    q = tf.add(q, tf.sub(tf.cast(tooBig, 'int32'), tf.cast(tooSmall, 'int32')));
    return tf.where(tf.broadcastTo(zero, q.shape), tf.zerosLike(q), q);
  }

  /** int32 Python modulo (sign of the divisor); modulo 0 gives 0. */
  private intMod(x: TfTensor, y: TfTensor): TfTensor {
    const tf = this.tf;
    const q = this.intFloorDiv(x, y);
    const zero = tf.broadcastTo(tf.equal(y, 0), q.shape);
    const r = tf.sub(x, tf.mul(q, y));
    return tf.where(zero, tf.zerosLike(r), r);
  }

  /** Float Python modulo: `a % b` (truncated) shifted by b when the signs differ. */
  private floatMod(x: TfTensor, y: TfTensor): TfTensor {
    const tf = this.tf;
    const q = tf.div(x, y);
    const t = tf.where(tf.less(q, 0), tf.ceil(q), tf.floor(q)); // trunc(a / b)
    const r = tf.sub(x, tf.mul(t, y)); // a % b (C fmod)
    const fix = tf.logicalAnd(tf.notEqual(r, 0), tf.notEqual(tf.less(r, 0), tf.less(y, 0)));
    return tf.where(fix, tf.add(r, y), r);
  }

  where(cond: T, a: T, b: T, outShape: Shape): T {
    const tf = this.tf;
    return this.run(outShape, a.dtype, () => {
      const s = [...outShape];
      const c = tf.broadcastTo(tf.notEqual(this.v(cond), 0), s);
      return tf.where(c, this.expand(this.v(a), s), this.expand(this.v(b), s));
    });
  }

  cast(x: T, dtype: DType): T {
    const tf = this.tf;
    return this.run(x.shape, dtype, () => {
      const a = this.v(x);
      if (x.dtype === dtype) return tf.clone(a);
      if (dtype === 'int32') {
        // Truncate toward zero explicitly; NaN → 0.
        const t = tf.where(tf.less(a, 0), tf.ceil(a), tf.floor(a));
        return tf.cast(tf.where(tf.isNaN(t), tf.zerosLike(t), t), 'int32');
      }
      return tf.cast(a, dtype);
    });
  }

  // ---- reductions ----

  reduce(op: ReduceOp, x: T, axes: readonly number[]): T {
    const tf = this.tf;
    const shape = x.shape.filter((_, i) => !axes.includes(i));
    if (this.hostMoves && axes.length > 0 && sizeOf(shape) > 0) {
      const r = this.hostReduce(op, x, axes, shape);
      if (r !== undefined) return r;
    }
    return this.run(shape, x.dtype, () => {
      const a = this.v(x);
      if (axes.length === 0) return tf.clone(a);
      if (sizeOf(x.shape) === 0) {
        const fillValue = op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity;
        return tf.fill(shape, fillValue, x.dtype);
      }
      const ax = [...axes];
      if (op === 'sum') return tf.sum(a, ax);
      if (op === 'max') return tf.max(a, ax);
      return tf.min(a, ax);
    });
  }

  /**
   * Reductions over one contiguous block of non-trailing axes on the host (cpu, wasm), with the reference's
   * semantics: float64 accumulators, NaN propagates through max/min. (tfjs reduces only the last axis
   * natively and transposes first otherwise — a per-element Transpose on wasm.) Returns undefined for
   * non-contiguous or trailing axes.
   */
  private hostReduce(op: ReduceOp, x: T, axes: readonly number[], shape: Shape): T | undefined {
    const ax = [...axes].sort((p, q) => p - q);
    for (let i = 1; i < ax.length; i++) if (ax[i] !== ax[i - 1]! + 1) return undefined;
    const outer = sizeOf(x.shape.slice(0, ax[0]!));
    const R = sizeOf(x.shape.slice(ax[0]!, ax[ax.length - 1]! + 1));
    const inner = sizeOf(x.shape.slice(ax[ax.length - 1]! + 1));
    if (inner === 1) return undefined; // trailing axes: tfjs reduces those natively, without a transpose
    const acc = new Float64Array(outer * inner).fill(op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity);
    if (R > 0) {
      const src = this.hostValues(x);
      for (let o = 0; o < outer; o++) {
        const base = o * inner;
        for (let r = 0; r < R; r++) {
          const from = (o * R + r) * inner;
          if (op === 'sum') {
            for (let i = 0; i < inner; i++) acc[base + i] = acc[base + i]! + src[from + i]!;
          } else if (op === 'max') {
            for (let i = 0; i < inner; i++) {
              const v = src[from + i]!;
              const m = acc[base + i]!;
              if (v > m || (v !== v && m === m)) acc[base + i] = v;
            }
          } else {
            for (let i = 0; i < inner; i++) {
              const v = src[from + i]!;
              const m = acc[base + i]!;
              if (v < m || (v !== v && m === m)) acc[base + i] = v;
            }
          }
        }
      }
    }
    const out = x.dtype === 'int32' ? Int32Array.from(acc) : Float32Array.from(acc);
    return this.out(this.tf.tensor(out, [...shape], x.dtype), shape, x.dtype);
  }

  argMax(x: T, axis: number): T {
    const tf = this.tf;
    const shape = x.shape.filter((_, i) => i !== axis);
    if (this.hostMoves && sizeOf(shape) > 0 && x.shape[axis]! > 0) {
      // First strict maximum, NaN never wins, index 0 when nothing beats −Infinity (the CPU reference).
      const src = this.hostValues(x);
      const len = x.shape[axis]!;
      const inner = sizeOf(x.shape.slice(axis + 1));
      const outer = sizeOf(x.shape.slice(0, axis));
      const out = new Int32Array(outer * inner);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          let best = -Infinity;
          let at = 0;
          for (let a = 0, k = o * len * inner + i; a < len; a++, k += inner) {
            const v = src[k]!;
            if (v > best) {
              best = v;
              at = a;
            }
          }
          out[o * inner + i] = at;
        }
      }
      return this.out(tf.tensor(out, shape, 'int32'), shape, 'int32');
    }
    return this.run(shape, 'int32', () => {
      const a = this.v(x);
      // tfjs's ArgMax keeps the first strict maximum starting from element 0, so with NaN made
      // −Infinity it is the contract's "first maximum, NaN ignored, index 0 if none".
      const f = x.dtype === 'float32' ? tf.where(tf.isNaN(a), tf.fill([...x.shape], -Infinity), a) : a;
      return tf.argMax(f, axis);
    });
  }

  argSort(x: T): T {
    const tf = this.tf;
    const n = x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1]!;
    if (sizeOf(x.shape) === 0) return this.out(tf.zeros([...x.shape], 'int32'), x.shape, 'int32');
    if ((n > MAX_DEVICE_SORT && this.canReadSync) || (this.hostMoves && x.dtype === 'int32')) return this.hostArgSort(x, n);
    return this.run(x.shape, 'int32', () => {
      const rows = sizeOf(x.shape) / n;
      const a = tf.reshape(this.v(x), [rows, n]);
      const f = a.dtype === 'float32' ? a : tf.cast(a, 'float32');
      const nan = tf.isNaN(f);
      const keys = a.dtype === 'float32' ? tf.where(nan, tf.fill([rows, n], Infinity), f) : a;
      // 1. Sort (unstably) by key with topk on the negated key: ascending values and their positions.
      const negated = a.dtype === 'float32' ? tf.neg(keys) : tf.sub(tf.scalar(0, 'int32'), keys);
      const { values, indices: perm } = tf.topk(negated, n, true);
      // 2. Dense rank of each sorted key: runs of equal values share a rank.
      const sortedKeys = values;
      const prev = tf.concat([tf.slice(sortedKeys, [0, 0], [rows, 1]), tf.slice(sortedKeys, [0, 0], [rows, n - 1])], 1);
      const changed = tf.cast(tf.notEqual(sortedKeys, prev), 'int32');
      const rank = tf.cumsum(changed, 1);
      // 3. Composite int32 key (rank, isNaN, original position): all distinct, so the order is stable.
      const nanSorted = tf.cast(this.batchGather(tf.cast(nan, 'int32'), perm), 'int32');
      const composite = tf.add(tf.mul(tf.add(tf.mul(rank, 2), nanSorted), n), perm);
      const order = tf.topk(tf.sub(tf.scalar(0, 'int32'), composite), n, true).indices;
      return tf.reshape(this.batchGather(perm, order), [...x.shape]);
    });
  }

  /** Stable argsort on the host (rows longer than the device composite key allows). */
  private hostArgSort(x: T, n: number): T {
    const data = this.hostValues(x);
    const rows = sizeOf(x.shape) / n;
    const out = new Int32Array(sizeOf(x.shape));
    const idx = new Array<number>(n);
    for (let r = 0; r < rows; r++) {
      const base = r * n;
      if (data instanceof Int32Array && this.countingSort(data, base, n, out)) continue;
      for (let i = 0; i < n; i++) idx[i] = i;
      idx.sort((i, j) => {
        const a = data[base + i]!;
        const b = data[base + j]!;
        const an = a !== a;
        const bn = b !== b;
        if (an || bn) return an === bn ? i - j : an ? 1 : -1;
        return a < b ? -1 : a > b ? 1 : i - j;
      });
      for (let i = 0; i < n; i++) out[base + i] = idx[i]!;
    }
    return this.out(this.tf.tensor(out, [...x.shape], 'int32'), x.shape, 'int32');
  }

  /**
   * Stable counting sort of one int32 row when its value range is at most 4n (LSH sort keys, inverse
   * permutations): O(n + range). Returns false (nothing written) for a wider range.
   */
  private countingSort(data: Int32Array, base: number, n: number, out: Int32Array): boolean {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = data[base + i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const range = hi - lo + 1;
    if (!(range <= 4 * n + 16)) return false;
    const start = new Int32Array(range + 1);
    for (let i = 0; i < n; i++) start[data[base + i]! - lo + 1]!++;
    for (let b = 0; b < range; b++) start[b + 1]! += start[b]!;
    for (let i = 0; i < n; i++) out[base + start[data[base + i]! - lo]!++] = i;
    return true;
  }

  // ---- matmul ----

  matmul(a: T, b: T, transposeA: boolean, transposeB: boolean, outShape: Shape): T {
    const tf = this.tf;
    const K = transposeA ? a.shape[a.shape.length - 2]! : a.shape[a.shape.length - 1]!;
    if (K === 0) return this.out(tf.zeros([...outShape]), outShape, 'float32');
    return this.run(outShape, 'float32', () => {
      const rank = outShape.length;
      const batch = outShape.slice(0, rank - 2);
      const x = this.expand(this.v(a), [...batch, ...a.shape.slice(-2)]);
      const y = this.expand(this.v(b), [...batch, ...b.shape.slice(-2)]);
      return tf.matMul(x, y, transposeA, transposeB);
    });
  }

  // ---- layout ----

  transpose(x: T, perm: readonly number[]): T {
    const shape = perm.map((p) => x.shape[p]!);
    return this.run(shape, x.dtype, () => this.tf.transpose(this.v(x), [...perm]));
  }

  slice(x: T, begin: readonly number[], size: readonly number[]): T {
    if (this.hostMoves && sizeOf(size) > 0) return this.hostSlice(x, begin, size);
    return this.run(size, x.dtype, () => this.tf.slice(this.v(x), [...begin], [...size]));
  }

  /**
   * Slice as a host copy of contiguous runs (tfjs-wasm's Slice reads the WHOLE source into JS on every
   * call and, above rank 4, indexes every element: a [2, 16384, 24] → [.., 16] slice took 0.7 s).
   */
  private hostSlice(x: T, begin: readonly number[], size: readonly number[]): T {
    const src = this.hostValues(x);
    const rank = x.shape.length;
    const out = x.dtype === 'int32' ? new Int32Array(sizeOf(size)) : new Float32Array(sizeOf(size));
    if (rank === 0) {
      out[0] = src[0]!;
    } else {
      const strides = new Array<number>(rank);
      strides[rank - 1] = 1;
      for (let i = rank - 2; i >= 0; i--) strides[i] = strides[i + 1]! * x.shape[i + 1]!;
      const run = size[rank - 1]!;
      const idx = new Array<number>(rank - 1).fill(0);
      const rows = sizeOf(size) / run;
      for (let r = 0, to = 0; r < rows; r++, to += run) {
        let from = begin[rank - 1]!;
        for (let i = 0; i < rank - 1; i++) from += (begin[i]! + idx[i]!) * strides[i]!;
        copyRun(out, to, src, from, run);
        for (let i = rank - 2; i >= 0; i--) {
          if (++idx[i]! < size[i]!) break;
          idx[i] = 0;
        }
      }
    }
    return this.out(this.tf.tensor(out, [...size], x.dtype), size, x.dtype);
  }

  concat(xs: readonly T[], axis: number): T {
    const first = xs[0]!;
    const shape = [...first.shape];
    shape[axis] = xs.reduce((s, x) => s + x.shape[axis]!, 0);
    if (this.hostMoves && sizeOf(shape) > 0) {
      // Host block copies: outer × (each part's axis·inner run, in order).
      const outer = sizeOf(shape.slice(0, axis));
      const inner = sizeOf(shape.slice(axis + 1));
      const out = first.dtype === 'int32' ? new Int32Array(sizeOf(shape)) : new Float32Array(sizeOf(shape));
      const row = shape[axis]! * inner;
      let offset = 0;
      for (const x of xs) {
        const run = x.shape[axis]! * inner;
        if (run > 0) {
          const src = this.hostValues(x);
          for (let o = 0; o < outer; o++) copyRun(out, o * row + offset, src, o * run, run);
        }
        offset += run;
      }
      return this.out(this.tf.tensor(out, shape, first.dtype), shape, first.dtype);
    }
    return this.run(shape, first.dtype, () => {
      const parts = xs.filter((x) => sizeOf(x.shape) > 0).map((x) => this.v(x));
      return parts.length === 1 ? this.tf.clone(parts[0]!) : this.tf.concat(parts, axis);
    });
  }

  pad(x: T, paddings: readonly (readonly [number, number])[], value: number): T {
    const shape = x.shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]);
    const v = x.dtype === 'int32' ? Math.trunc(value) : value;
    if (sizeOf(x.shape) === 0) return this.out(this.tf.fill(shape, v, x.dtype), shape, x.dtype);
    return this.run(shape, x.dtype, () => this.tf.pad(this.v(x), paddings.map(([a, b]) => [a, b] as [number, number]), v));
  }

  /** Throws InvalidArgumentError if an index is outside [0, size) (only where a sync read is possible). */
  private checkIndices(op: string, indices: T, size: number, axis: number): Int32Array | undefined {
    if (!this.canReadSync || sizeOf(indices.shape) === 0) return undefined;
    const data = this.hostValues(indices) as Int32Array;
    for (let i = 0; i < data.length; i++) {
      const j = data[i]!;
      if (j < 0 || j >= size) {
        throw new InvalidArgumentError(`${op}: index ${j} is out of range for axis ${axis} of size ${size}; indices must be in 0..${size - 1}.`);
      }
    }
    return data;
  }

  /**
   * Batched gather without tfjs's `batchDims` (broken on wasm): `a` `[outer, A, inner]` (or `[outer, A]`),
   * `idx` int32 `[outer, n]` → `[outer, n, inner]` (or `[outer, n]`), through one flat `gather`.
   */
  private batchGather(a: TfTensor, idx: TfTensor): TfTensor {
    const tf = this.tf;
    const [outer, A] = a.shape as [number, number];
    const n = idx.shape[1]!;
    const inner = a.shape.length > 2 ? a.shape[2]! : 1;
    const base = tf.mul(tf.reshape(tf.range(0, outer, 1, 'int32'), [outer, 1]), tf.scalar(A, 'int32'));
    const flat = tf.reshape(tf.add(idx, base), [outer * n]);
    const g = tf.gather(tf.reshape(a, [outer * A, inner]), flat, 0);
    return tf.reshape(g, a.shape.length > 2 ? [outer, n, inner] : [outer, n]);
  }

  gather(x: T, indices: T, axis: number): T {
    const n = indices.shape[indices.shape.length - 1]!;
    const shape = [...x.shape.slice(0, axis), n, ...x.shape.slice(axis + 1)];
    const checked = this.checkIndices('gather', indices, x.shape[axis]!, axis);
    const outer = sizeOf(x.shape.slice(0, axis));
    const inner = sizeOf(x.shape.slice(axis + 1));
    const A = x.shape[axis]!;
    if (this.hostMoves && sizeOf(shape) > 0) {
      const src = this.hostValues(x);
      const idx = checked ?? (this.hostValues(indices) as Int32Array);
      const out = x.dtype === 'int32' ? new Int32Array(sizeOf(shape)) : new Float32Array(sizeOf(shape));
      for (let o = 0; o < outer; o++) {
        for (let j = 0; j < n; j++) {
          const from = (o * A + idx[o * n + j]!) * inner;
          const to = (o * n + j) * inner;
          if (inner === 1) out[to] = src[from]!;
          else copyRun(out, to, src, from, inner);
        }
      }
      return this.out(this.tf.tensor(out, [...shape], x.dtype), shape, x.dtype);
    }
    return this.run(shape, x.dtype, () => {
      const tf = this.tf;
      const a = tf.reshape(this.v(x), [outer, A, inner]);
      const idx = tf.reshape(this.v(indices), [outer, n]);
      return tf.reshape(this.batchGather(a, idx), shape);
    });
  }

  scatterAdd(updates: T, indices: T, axis: number, size: number): T {
    const shape = [...updates.shape];
    shape[axis] = size;
    const checked = this.checkIndices('scatterAdd', indices, size, axis);
    if (this.hostMoves && sizeOf(shape) > 0) {
      const outer = sizeOf(updates.shape.slice(0, axis));
      const n = updates.shape[axis]!;
      const inner = sizeOf(updates.shape.slice(axis + 1));
      const idx = n > 0 && inner > 0 ? (checked ?? (this.hostValues(indices) as Int32Array)) : undefined;
      // float32 targets hit at most twice (a permutation's or two hash rounds' gather gradient) are
      // summed in float32 directly: 0 + a is exact and one float32 addition is correctly rounded, so
      // the result is bit-identical to the float64 sum rounded once.
      const f32 = updates.dtype === 'float32' && idx !== undefined && atMostTwice(idx, outer, n, size);
      const out = updates.dtype === 'int32' ? new Int32Array(sizeOf(shape)) : f32 ? new Float32Array(sizeOf(shape)) : new Float64Array(sizeOf(shape));
      if (idx !== undefined) {
        const src = this.hostValues(updates);
        if (out instanceof Int32Array) scatterAddI(out, src as Int32Array, idx, outer, n, size, inner);
        else scatterAddF(out, src as Float32Array, idx, outer, n, size, inner);
      }
      const values = out instanceof Float64Array ? new Float32Array(out) : out;
      return this.out(this.tf.tensor(values, [...shape], updates.dtype), shape, updates.dtype);
    }
    return this.run(shape, updates.dtype, () => {
      const tf = this.tf;
      const outer = sizeOf(updates.shape.slice(0, axis));
      const n = updates.shape[axis]!;
      const inner = sizeOf(updates.shape.slice(axis + 1));
      if (n === 0 || inner === 0) return tf.zeros(shape, updates.dtype);
      const u = tf.reshape(this.v(updates), [outer * n, inner]);
      const idx = tf.reshape(this.v(indices), [outer, n]);
      const rowsOf = tf.broadcastTo(tf.reshape(tf.range(0, outer, 1, 'int32'), [outer, 1]), [outer, n]);
      const nd = tf.reshape(tf.stack([rowsOf, idx], 2), [outer * n, 2]);
      // ScatterNd sums duplicate indices (wasm lacks UnsortedSegmentSum).
      return tf.reshape(tf.scatterND(nd, u, [outer, size, inner]), shape);
    });
  }

  // ---- fused kernels ----

  /** Row max with −Infinity (all −Infinity rows) replaced by 0, keepDims. */
  private safeMax(a: TfTensor, axis = -1): TfTensor {
    const tf = this.tf;
    const m = tf.max(a, axis, true);
    return tf.where(tf.isFinite(m), m, tf.zerosLike(m));
  }

  softmax(x: T): T {
    const tf = this.tf;
    return this.run(x.shape, 'float32', () => {
      const a = this.v(x);
      const e = tf.exp(tf.sub(a, this.safeMax(a)));
      const s = tf.sum(e, -1, true);
      return tf.where(tf.greater(s, 0), tf.div(e, s), tf.zerosLike(e));
    });
  }

  /** logsumexp over the last axis, keepDims; all −Infinity rows give −Infinity, +Infinity/NaN propagate. */
  private lse(a: TfTensor): TfTensor {
    const tf = this.tf;
    const m = tf.max(a, -1, true);
    const ms = tf.where(tf.isFinite(m), m, tf.zerosLike(m));
    const l = tf.add(ms, tf.log(tf.sum(tf.exp(tf.sub(a, ms)), -1, true)));
    return tf.where(tf.isFinite(m), l, m);
  }

  logSumExp(x: T): T {
    const shape = x.shape.slice(0, -1);
    return this.run(shape, 'float32', () => this.tf.reshape(this.lse(this.v(x)), shape));
  }

  layerNorm(x: T, gamma: T, beta: T, eps: number): { y: T; mean: T; rstd: T } {
    const tf = this.tf;
    const stats = x.shape.slice(0, -1);
    if (sizeOf(x.shape) === 0) {
      return {
        y: this.out(tf.zeros([...x.shape]), x.shape, 'float32'),
        mean: this.out(tf.zeros(stats), stats, 'float32'),
        rstd: this.out(tf.zeros(stats), stats, 'float32'),
      };
    }
    const [y, mean, rstd] = tf.tidy(() => {
      const a = this.v(x);
      const mu = tf.mean(a, -1, true);
      const c = tf.sub(a, mu);
      const variance = tf.mean(tf.mul(c, c), -1, true);
      const rs = tf.div(1, tf.sqrt(tf.add(variance, eps)));
      const out = tf.add(tf.mul(tf.mul(c, rs), this.v(gamma)), this.v(beta));
      return [out, tf.reshape(mu, stats), tf.reshape(rs, stats)];
    });
    return { y: this.out(y!, x.shape, 'float32'), mean: this.out(mean!, stats, 'float32'), rstd: this.out(rstd!, stats, 'float32') };
  }

  layerNormBackward(dy: T, x: T, gamma: T, mean: T, rstd: T): { dx: T; dGamma: T; dBeta: T } {
    const tf = this.tf;
    if (sizeOf(x.shape) === 0) {
      return {
        dx: this.out(tf.zeros([...x.shape]), x.shape, 'float32'),
        dGamma: this.out(tf.zeros([...gamma.shape]), gamma.shape, 'float32'),
        dBeta: this.out(tf.zeros([...gamma.shape]), gamma.shape, 'float32'),
      };
    }
    const [dx, dGamma, dBeta] = tf.tidy(() => {
      const D = x.shape[x.shape.length - 1]!;
      const rows = sizeOf(x.shape) / D;
      const a = tf.reshape(this.v(x), [rows, D]);
      const d = tf.reshape(this.v(dy), [rows, D]);
      const mu = tf.reshape(this.v(mean), [rows, 1]);
      const rs = tf.reshape(this.v(rstd), [rows, 1]);
      const xhat = tf.mul(tf.sub(a, mu), rs);
      const g = tf.mul(d, tf.reshape(this.v(gamma), [1, D]));
      const mg = tf.mean(g, -1, true);
      const mgx = tf.mean(tf.mul(g, xhat), -1, true);
      const dxv = tf.mul(rs, tf.sub(tf.sub(g, mg), tf.mul(xhat, mgx)));
      return [tf.reshape(dxv, [...x.shape]), tf.sum(tf.mul(d, xhat), 0), tf.sum(d, 0)];
    });
    return {
      dx: this.out(dx!, x.shape, 'float32'),
      dGamma: this.out(this.reshapeOwned(dGamma!, gamma.shape), gamma.shape, 'float32'),
      dBeta: this.out(this.reshapeOwned(dBeta!, gamma.shape), gamma.shape, 'float32'),
    };
  }

  activationBackward(op: ActivationOp, x: T, dy: T): T {
    const tf = this.tf;
    return this.run(x.shape, 'float32', () => {
      const a = this.v(x);
      const d = this.v(dy);
      if (op === 'relu') return tf.where(tf.greater(a, 0), d, tf.zerosLike(d));
      const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(a, SQRT1_2))));
      const pdf = tf.mul(INV_SQRT_2PI, tf.exp(tf.mul(-0.5, tf.mul(a, a))));
      return tf.mul(d, tf.add(cdf, tf.mul(a, pdf)));
    });
  }

  private checkLabels(op: string, labels: T, V: number, ignoreIndex: number): void {
    if (!this.canReadSync) return;
    const data = labels.storage.dataSync();
    for (let i = 0; i < sizeOf(labels.shape); i++) {
      const t = data[i]!;
      if (t !== ignoreIndex && (t < 0 || t >= V)) {
        throw new InvalidArgumentError(
          `${op}: label ${t} of row ${i} is out of range for ${V} classes; labels must be in 0..${V - 1} or equal ignoreIndex (${ignoreIndex}).`,
        );
      }
    }
  }

  crossEntropy(logits: T, labels: T, ignoreIndex: number): { loss: T; lse: T } {
    const tf = this.tf;
    const [N, V] = logits.shape as [number, number];
    this.checkLabels('crossEntropy', labels, V, ignoreIndex);
    if (N === 0 || V === 0) {
      const fillLse = V === 0 ? -Infinity : 0;
      return { loss: this.out(tf.zeros([N]), [N], 'float32'), lse: this.out(tf.fill([N], fillLse), [N], 'float32') };
    }
    const [loss, lse] = tf.tidy(() => {
      const a = this.v(logits);
      const lab = this.v(labels);
      const l = this.lse(a);
      const ignored = tf.equal(lab, ignoreIndex);
      const safe = tf.where(ignored, tf.zerosLike(lab), lab);
      const picked = this.batchGather(a, tf.reshape(safe, [N, 1]));
      const ls = tf.reshape(tf.sub(l, picked), [N]);
      return [tf.where(ignored, tf.zerosLike(ls), ls), tf.reshape(l, [N])];
    });
    return { loss: this.out(loss!, [N], 'float32'), lse: this.out(lse!, [N], 'float32') };
  }

  crossEntropyBackward(logits: T, labels: T, lse: T, dLoss: T, ignoreIndex: number): T {
    const tf = this.tf;
    const [N, V] = logits.shape as [number, number];
    this.checkLabels('crossEntropyBackward', labels, V, ignoreIndex);
    return this.run(logits.shape, 'float32', () => {
      const a = this.v(logits);
      const lab = this.v(labels);
      const ignored = tf.reshape(tf.equal(lab, ignoreIndex), [N, 1]);
      const p = tf.exp(tf.sub(a, tf.reshape(this.v(lse), [N, 1])));
      const hot = tf.equal(tf.reshape(tf.range(0, V, 1, 'int32'), [1, V]), tf.reshape(lab, [N, 1]));
      const g = tf.mul(tf.reshape(this.v(dLoss), [N, 1]), tf.where(hot, tf.sub(p, 1), p));
      return tf.where(tf.broadcastTo(ignored, [N, V]), tf.zerosLike(g), g);
    });
  }

  // ---- chunked attention ----

  private checkChunk(q: T, p: ChunkedAttentionParams<TfjsStorage>): void {
    const N = q.shape[2]!;
    const C = p.chunkLength;
    if (!Number.isInteger(C) || C <= 0 || N % C !== 0) {
      throw new InvalidArgumentError(`chunkedAttention: chunkLength ${C} must be a positive divisor of the sequence length ${N}.`);
    }
  }

  private attentionInputs(q: T, k: T, v: T, p: ChunkedAttentionParams<TfjsStorage>): AttentionInputs {
    const [B, H, N, d] = q.shape as [number, number, number, number];
    return {
      B,
      H,
      N,
      d,
      dv: v.shape[3]!,
      q: this.v(q),
      k: this.v(k),
      v: this.v(v),
      positions: p.positions !== undefined ? this.v(p.positions) : undefined,
      keyMask: p.keyMask !== undefined ? this.v(p.keyMask) : undefined,
      buckets: p.buckets !== undefined ? this.v(p.buckets) : undefined,
    };
  }

  /**
   * Chunk groups whose logits fit `attention.groupBytes`, each in its own `tf.tidy` (see attention.ts);
   * `band` 2-D matmuls on wasm, batched matmuls elsewhere.
   */
  chunkedAttention(q: T, k: T, v: T, params: ChunkedAttentionParams<TfjsStorage>): { out: T; lse: T } {
    const tf = this.tf;
    const [B, H, N] = q.shape as [number, number, number, number];
    const lseShape = [B, H, N];
    if (sizeOf(q.shape) === 0 || sizeOf(v.shape) === 0 || N === 0) {
      return {
        out: this.out(tf.zeros([...v.shape]), v.shape, 'float32'),
        lse: this.out(tf.zeros(lseShape), lseShape, 'float32'),
      };
    }
    this.checkChunk(q, params);
    const [out, lse] = tf.tidy(() => {
      const [o, l] = attentionForward(tf, params, this.attentionInputs(q, k, v, params), this.attention);
      return [this.shaped(o, v.shape), this.shaped(l, lseShape)];
    });
    return { out: this.out(out!, v.shape, 'float32'), lse: this.out(lse!, lseShape, 'float32') };
  }

  chunkedAttentionBackward(
    q: T,
    k: T,
    v: T,
    out: T,
    lse: T,
    dOut: T,
    dLse: T,
    params: ChunkedAttentionParams<TfjsStorage>,
  ): { dq: T; dk: T; dv: T } {
    const tf = this.tf;
    const N = q.shape[2]!;
    if (sizeOf(q.shape) === 0 || sizeOf(v.shape) === 0 || N === 0) {
      return {
        dq: this.out(tf.zeros([...q.shape]), q.shape, 'float32'),
        dk: this.out(tf.zeros([...k.shape]), k.shape, 'float32'),
        dv: this.out(tf.zeros([...v.shape]), v.shape, 'float32'),
      };
    }
    this.checkChunk(q, params);
    const [dq, dk, dvv] = tf.tidy(() => {
      const x = this.attentionInputs(q, k, v, params);
      const [a, b, c] = attentionBackward(tf, params, x, this.v(out), this.v(lse), this.v(dOut), this.v(dLse), this.attention);
      return [this.shaped(a, q.shape), this.shaped(b, k.shape), this.shaped(c, v.shape)];
    });
    return {
      dq: this.out(dq!, q.shape, 'float32'),
      dk: this.out(dk!, k.shape, 'float32'),
      dv: this.out(dvv!, v.shape, 'float32'),
    };
  }
}

/** The int32 semantics of one binary op (the CPU reference's: wrap to 32 bits, x / 0 and x mod 0 give 0). */
function intOp(op: BinaryOp): (x: number, y: number) => number {
  switch (op) {
    case 'add':
      return (x, y) => (x + y) | 0;
    case 'sub':
      return (x, y) => (x - y) | 0;
    case 'mul':
      return (x, y) => Math.imul(x, y);
    case 'div':
    case 'floorDiv':
      return (x, y) => Math.floor(x / y) | 0;
    case 'mod':
      return (x, y) => {
        const r = y === 0 ? 0 : x % y;
        return r !== 0 && r < 0 !== y < 0 ? r + y : r;
      };
    case 'pow':
      return (x, y) => Math.trunc(Math.pow(x, y)) | 0;
    case 'maximum':
      return (x, y) => Math.max(x, y);
    case 'minimum':
      return (x, y) => Math.min(x, y);
    case 'equal':
      return (x, y) => (x === y ? 1 : 0);
    case 'notEqual':
      return (x, y) => (x !== y ? 1 : 0);
    case 'less':
      return (x, y) => (x < y ? 1 : 0);
    case 'lessEqual':
      return (x, y) => (x <= y ? 1 : 0);
    case 'greater':
      return (x, y) => (x > y ? 1 : 0);
    case 'greaterEqual':
      return (x, y) => (x >= y ? 1 : 0);
    default:
      throw new Error(`tfjs binary: unknown op '${String(op satisfies never)}'`);
  }
}

function convert(data: ArrayLike<number> | Uint8Array | string[] | unknown, dtype: DType, size: number): TypedArray {
  const src = data as ArrayLike<number>;
  const n = Math.min(size, src.length);
  if (dtype === 'int32') {
    if (src instanceof Int32Array) return src.slice(0, n);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.trunc(src[i]!);
    return out;
  }
  if (src instanceof Float32Array) return src.slice(0, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = src[i]!;
  return out;
}
