/**
 * The exports of the compiled kernels (assembly/), their file names and instantiation. Pointers are
 * byte offsets into the memory the host creates and passes in as `env.memory`.
 */
import { InvalidArgumentError } from '@reformer/core';
import { hasRelaxedSimd, hasSimd, type WasmKernelFeatures } from './features.js';

/** The functions of the kernel module. */
export interface WasmKernelExports {
  matmulScratchBytes(): number;
  matmul(
    a: number,
    b: number,
    c: number,
    M: number,
    N: number,
    K: number,
    rsA: number,
    csA: number,
    rsB: number,
    csB: number,
    scratch: number,
  ): void;
  binary2d(op: number, a: number, as0: number, as1: number, b: number, bs0: number, bs1: number, out: number, d0: number, d1: number): void;
  gatherBlocks(x: number, idx: number, out: number, outer: number, size: number, n: number, inner: number): void;
  scatterAddBlocks(upd: number, idx: number, out: number, acc: number, outer: number, n: number, size: number, inner: number): void;
  unaryFloat(op: number, x: number, out: number, n: number): void;
  scatterAddRowRange(
    upd: number,
    idx: number,
    out: number,
    acc: number,
    outer: number,
    n: number,
    size: number,
    inner: number,
    k0: number,
    k1: number,
  ): void;
  reluBackward(x: number, dy: number, out: number, n: number): void;
  reduceSum(x: number, out: number, acc: number, outer: number, r: number, inner: number): void;
  reduceSumRange(x: number, out: number, outer: number, r: number, inner: number, acc: number): void;
  reduceSumColumns(x: number, out: number, outer: number, r: number, inner: number, c0: number, c1: number, acc: number): void;
  argSortScratchBytes(n: number): number;
  argSortRows(x: number, out: number, rows: number, n: number, isFloat: boolean, scratch: number): void;
  argMaxFloat(x: number, out: number, outer: number, len: number, inner: number, best: number): void;
  signedArgMaxRows(x: number, out: number, rows: number, len: number): void;
  stridedCopy(src: number, dst: number, rank: number, dims: number): void;
  fill32(dst: number, value: number, n: number): void;
  softmaxRows(x: number, y: number, rows: number, n: number): void;
  logSumExpRows(x: number, out: number, rows: number, n: number): void;
  crossEntropyRows(logits: number, labels: number, loss: number, lse: number, rows: number, V: number, ignoreIndex: number): void;
  crossEntropyBackwardRows(
    logits: number,
    labels: number,
    lse: number,
    dLoss: number,
    out: number,
    rows: number,
    V: number,
    ignoreIndex: number,
  ): void;
  layerNormRows(x: number, gamma: number, beta: number, y: number, mean: number, rstd: number, rows: number, n: number, eps: number): void;
  layerNormBackwardRows(
    dy: number,
    x: number,
    gamma: number,
    mean: number,
    rstd: number,
    dx: number,
    dGamma: number,
    dBeta: number,
    rows: number,
    n: number,
    acc: number,
  ): void;
  attentionScratchBytes(N: number, d: number, dv: number, c: number, before: number, after: number, backward: boolean): number;
  attentionForward(
    q: number,
    k: number,
    v: number,
    out: number,
    lse: number,
    N: number,
    d: number,
    dv: number,
    c: number,
    before: number,
    after: number,
    flags: number,
    scale: number,
    positions: number,
    buckets: number,
    mask: number,
    n0: number,
    n1: number,
    scratch: number,
  ): void;
  attentionBackward(
    q: number,
    k: number,
    v: number,
    out: number,
    lse: number,
    dOut: number,
    dLse: number,
    dq: number,
    dk: number,
    dv: number,
    N: number,
    d: number,
    dvSize: number,
    c: number,
    before: number,
    after: number,
    flags: number,
    scale: number,
    positions: number,
    buckets: number,
    mask: number,
    scratch: number,
  ): void;
  attentionBackwardPartials(
    q: number,
    k: number,
    v: number,
    out: number,
    lse: number,
    dOut: number,
    dLse: number,
    dq: number,
    N: number,
    d: number,
    dvSize: number,
    c: number,
    before: number,
    after: number,
    flags: number,
    scale: number,
    positions: number,
    buckets: number,
    mask: number,
    partK: number,
    partV: number,
    n0: number,
    n1: number,
    scratch: number,
  ): void;
  attentionBackwardReduce(
    dk: number,
    dv: number,
    N: number,
    d: number,
    dvSize: number,
    c: number,
    before: number,
    after: number,
    partK: number,
    partV: number,
    m0: number,
    m1: number,
  ): void;
}

/** File names of the two builds in the package's `dist/`. */
export const KERNEL_FILES = { simd: 'kernels-simd.wasm', 'relaxed-simd': 'kernels-relaxed.wasm' } as const;

/** File names of the builds that import a shared memory (threads). */
export const SHARED_KERNEL_FILES = { simd: 'kernels-simd-shared.wasm', 'relaxed-simd': 'kernels-relaxed-shared.wasm' } as const;

/** Any of the kernel files. */
export type KernelFile = (typeof KERNEL_FILES)[keyof typeof KERNEL_FILES] | (typeof SHARED_KERNEL_FILES)[keyof typeof SHARED_KERNEL_FILES];

/** Which build this engine runs: relaxed SIMD when it validates, else plain SIMD. */
export function chooseVariant(prefer?: 'simd' | 'relaxed-simd'): WasmKernelFeatures {
  if (!hasSimd()) {
    throw new InvalidArgumentError(
      'backend-wasm: this JavaScript engine has no WebAssembly SIMD128 (Node >= 16.4, Chrome >= 91, Firefox >= 89, Safari >= 16.4 have it); use the cpu backend.',
    );
  }
  const relaxed = hasRelaxedSimd();
  const variant = prefer === 'simd' || !relaxed ? 'simd' : 'relaxed-simd';
  if (prefer === 'relaxed-simd' && !relaxed) {
    throw new InvalidArgumentError(
      "backend-wasm: kernels 'relaxed-simd' were asked for but this engine does not validate relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd; Chrome >= 114 has it). Leave `kernels` unset to choose automatically.",
    );
  }
  return { variant, relaxedSimdAvailable: relaxed, threads: 1 };
}

/** Instantiates compiled kernels over `memory`. */
export async function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<WasmKernelExports> {
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  return instance.exports as unknown as WasmKernelExports;
}
