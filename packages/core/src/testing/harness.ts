/**
 * The machinery shared by the conformance tests: the suite context (backends created in
 * `beforeAll`), moving host values to and from a backend, tolerant comparison with readable failure
 * messages, forward-case and gradient-case runners, and memory snapshots for leak checks.
 */
import type { Backend } from '../backend.js';
import { gradients } from '../autograd.js';
import { dispose, getBackend, memory, setBackend, withBackend } from '../engine.js';
import { tensor } from '../ops/creation.js';
import { add, mul } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import type { Tensor } from '../tensor.js';
import { formatShape, type DType } from '../types.js';
import type { Rng } from './cases.js';
import { hostTensor, sizeOf, unravel, type HostTensor } from './oracles.js';

/** Tolerances of the suite (defaults are those the CPU backend must meet). */
export interface ConformanceTolerance {
  /** Forward kernels: `|got − want| ≤ atol + rtol·max(|want|, scale)`. Default 1e-5. */
  atol?: number;
  /** Relative part of the forward tolerance. Default 1e-5. */
  rtol?: number;
  /**
   * Transcendental functions (exp, log, sqrt, rsqrt, tanh, sigmoid, erf, sin, cos, gelu, pow) and the
   * fused kernels built on them (softmax, logSumExp, layerNorm, crossEntropy). Defaults to atol/rtol.
   */
  transcendental?: { atol: number; rtol: number };
  /** chunkedAttention: out, lse and analytic gradients, abs + rel. Default 1e-5. */
  attention?: number;
  /** Random-direction finite-difference checks, relative to Σ|∇f·u|. Default 1e-4. */
  gradient?: number;
}

/** A (atol, rtol) pair or exact equality. */
export type Tol = { atol: number; rtol: number } | 'exact';

/** Resolved tolerances. */
export interface Tolerances {
  basic: { atol: number; rtol: number };
  transcendental: { atol: number; rtol: number };
  attention: number;
  gradient: number;
}

/** Resolves user tolerances against the defaults. */
export function resolveTolerance(t: ConformanceTolerance = {}): Tolerances {
  const atol = t.atol ?? 1e-5;
  const rtol = t.rtol ?? 1e-5;
  return {
    basic: { atol, rtol },
    transcendental: t.transcendental ?? { atol, rtol },
    attention: t.attention ?? 1e-5,
    gradient: t.gradient ?? 1e-4,
  };
}

/** What every test of the suite reads: the backends (created in `beforeAll`) and the settings. */
export class SuiteContext {
  private be: Backend | undefined;
  private other: Backend | undefined;
  private ref: Backend | undefined;

  constructor(
    readonly name: string,
    readonly tol: Tolerances,
    readonly full: boolean,
    /** When bad gather/scatterAdd indices are reported (see `ConformanceOptions.indexErrors`). */
    readonly indexErrors: 'call' | 'readback' = 'call',
  ) {}

  /** @internal Called from `beforeAll`. */
  init(backend: Backend, second: Backend, reference: Backend | undefined): void {
    this.be = backend;
    this.other = second;
    this.ref = reference;
  }

  /** The backend under test. */
  get backend(): Backend {
    if (!this.be) throw new Error(`conformance(${this.name}): the backend was not created (did beforeAll fail?)`);
    return this.be;
  }

  /** A second instance of the backend under test (for the backend-mixing error). */
  get second(): Backend {
    if (!this.other) throw new Error(`conformance(${this.name}): the second backend instance was not created`);
    return this.other;
  }

  /** The reference backend, when given. */
  get reference(): Backend | undefined {
    return this.ref;
  }
}

/** Runs `fn` with `backend` current (creation functions and gradient internals allocate there). */
export function on<T>(backend: Backend, fn: () => T): T {
  return withBackend(backend, fn);
}

/**
 * Runs `fn` (sync or async) with `backend` as the current core backend (`setBackend`, which waits for
 * its initialisation) and restores the previous backend afterwards, even when `fn` throws.
 */
export async function onBackend<R>(backend: Backend, fn: () => R | Promise<R>): Promise<R> {
  const previous = getBackend();
  await setBackend(backend);
  try {
    return await fn();
  } finally {
    await setBackend(previous);
  }
}

/** Uploads a host tensor to the current backend. */
export function upload(h: HostTensor): Tensor {
  const values = h.dtype === 'int32' ? Int32Array.from(h.data) : Float32Array.from(h.data);
  return tensor(values, h.shape, h.dtype);
}

/** Reads a tensor back as a host tensor. */
export async function download(t: Tensor): Promise<HostTensor> {
  const data = await t.data();
  return hostTensor(t.shape, t.dtype, Float64Array.from(data));
}

/**
 * Compares values; throws an Error listing the worst mismatches (index, got, want, bound).
 * `scale` (optional, per element) is the magnitude the error is relative to when larger than |want|
 * (e.g. Σ|a||b| for a matmul).
 */
export function assertClose(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: Tol,
  what: string,
  shape?: readonly number[],
  scale?: ArrayLike<number>,
): void {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} values, expected ${want.length}`);
  const bad: { i: number; g: number; w: number; bound: number }[] = [];
  let count = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    let ok: boolean;
    let bound = 0;
    if (tol === 'exact') {
      ok = Object.is(g, w) || g === w;
    } else if (!Number.isFinite(w)) {
      ok = Object.is(g, w);
    } else {
      const mag = Math.max(Math.abs(w), scale ? Math.abs(scale[i]!) : 0);
      bound = tol.atol + tol.rtol * mag;
      ok = Math.abs(g - w) <= bound;
    }
    if (!ok) {
      count++;
      bad.push({ i, g, w, bound });
    }
  }
  if (count === 0) return;
  bad.sort((a, b) => Math.abs(b.g - b.w) / (b.bound || 1) - Math.abs(a.g - a.w) / (a.bound || 1));
  const lines = bad.slice(0, 6).map(({ i, g, w, bound }) => {
    const at = shape && shape.length > 0 ? `[${unravel(i, shape).join(', ')}]` : `#${i}`;
    return `  at ${at}: got ${g}, want ${w} (|diff| ${Math.abs(g - w).toExponential(3)}${tol === 'exact' ? '' : `, allowed ${bound.toExponential(3)}`})`;
  });
  throw new Error(`${what}: ${count} of ${got.length} values differ${tol === 'exact' ? ' (exact comparison)' : ''}\n${lines.join('\n')}`);
}

/** Checks shape, dtype and values of a tensor against a host tensor. */
export async function expectTensor(t: Tensor, want: HostTensor, tol: Tol, what: string, scale?: ArrayLike<number>): Promise<HostTensor> {
  if (t.shape.length !== want.shape.length || t.shape.some((d, i) => d !== want.shape[i])) {
    throw new Error(`${what}: shape ${formatShape(t.shape)}, expected ${formatShape(want.shape)}`);
  }
  if (t.dtype !== want.dtype) throw new Error(`${what}: dtype ${t.dtype}, expected ${want.dtype}`);
  const got = await download(t);
  assertClose(got.data, want.data, want.dtype === 'int32' ? 'exact' : tol, what, want.shape, scale);
  return got;
}

/** One forward test: inputs, the op on tensors, and the oracle. */
export interface ForwardCase {
  label: string;
  inputs: HostTensor[];
  /** Runs the op (on the current backend; inputs already uploaded there). */
  run: (xs: Tensor[]) => Tensor | Tensor[];
  /** Expected outputs. */
  want: () => HostTensor[];
  /** Per-output error scale (see {@link assertClose}). */
  scale?: () => (ArrayLike<number> | undefined)[];
  tol?: Tol;
}

function asList(r: Tensor | Tensor[]): Tensor[] {
  return Array.isArray(r) ? r : [r];
}

/** Runs a forward case on the backend under test (and the reference backend, if any) and compares. */
export async function checkForward(ctx: SuiteContext, c: ForwardCase, defaultTol: Tol): Promise<void> {
  const tol = c.tol ?? defaultTol;
  const backend = ctx.backend;
  const xs = on(backend, () => c.inputs.map(upload));
  let results: HostTensor[] = [];
  try {
    const outs = asList(on(backend, () => c.run(xs)));
    try {
      const want = c.want();
      const scales = c.scale?.() ?? [];
      if (outs.length !== want.length) throw new Error(`${c.label}: ${outs.length} outputs, expected ${want.length}`);
      for (let i = 0; i < outs.length; i++) {
        if (outs[i]!.backend !== backend)
          throw new Error(`${c.label}: output ${i} lives on '${outs[i]!.backend.name}', not on the backend under test`);
        results.push(
          await expectTensor(outs[i]!, want[i]!, tol, `${ctx.name} ${c.label}${outs.length > 1 ? ` (output ${i})` : ''}`, scales[i]),
        );
      }
    } finally {
      dispose(outs);
    }
  } finally {
    dispose(xs);
  }
  const ref = ctx.reference;
  if (ref) {
    const rxs = on(ref, () => c.inputs.map(upload));
    try {
      const routs = asList(on(ref, () => c.run(rxs)));
      try {
        for (let i = 0; i < routs.length; i++) {
          const r = await download(routs[i]!);
          assertClose(
            results[i]!.data,
            r.data,
            r.dtype === 'int32' ? 'exact' : tol,
            `${ctx.name} vs reference '${ref.name}': ${c.label} (output ${i})`,
            r.shape,
          );
        }
      } finally {
        dispose(routs);
      }
    } finally {
      dispose(rxs);
    }
  }
  results = [];
}

/** What leak checks compare. */
export interface MemorySnapshot {
  liveTensors: number;
  liveBytes: number;
  liveBuffers: number;
}

/** The backend's live tensors, bytes and buffers. */
export function snapshot(backend: Backend): MemorySnapshot {
  const m = memory(backend);
  return { liveTensors: m.liveTensors, liveBytes: m.liveBytes, liveBuffers: m.liveBuffers };
}

/** Throws unless two snapshots agree. */
export function assertNoLeak(before: MemorySnapshot, after: MemorySnapshot, what: string): void {
  if (before.liveTensors !== after.liveTensors || before.liveBytes !== after.liveBytes || before.liveBuffers !== after.liveBuffers) {
    throw new Error(
      `${what} leaks: liveTensors ${before.liveTensors} → ${after.liveTensors}, liveBytes ${before.liveBytes} → ${after.liveBytes}, ` +
        `liveBuffers ${before.liveBuffers} → ${after.liveBuffers}`,
    );
  }
}

/** Runs a forward case and checks that nothing is left behind once its outputs are disposed. */
export function checkForwardLeak(ctx: SuiteContext, c: ForwardCase): void {
  const backend = ctx.backend;
  const xs = on(backend, () => c.inputs.map(upload));
  try {
    const before = snapshot(backend);
    const outs = asList(on(backend, () => c.run(xs)));
    dispose(outs);
    assertNoLeak(before, snapshot(backend), `${ctx.name} ${c.label} (forward)`);
  } finally {
    dispose(xs);
  }
}

// ---------------------------------------------------------------------------------------------
// Gradients
// ---------------------------------------------------------------------------------------------

/** One finite-difference gradient test. */
export interface GradCase {
  label: string;
  inputs: HostTensor[];
  /** Indices of the inputs to differentiate (float32). */
  wrt: number[];
  /** The op on tensors. */
  run: (xs: Tensor[]) => Tensor | Tensor[];
  /** The op in float64 on the host (a brute-force definition, smooth around `inputs`). */
  ref: (xs: HostTensor[]) => HostTensor[];
  /** Finite-difference step (default 1e-4; the host side is float64, so truncation dominates). */
  eps?: number;
}

function randomDirection(rng: Rng, shape: readonly number[]): HostTensor {
  const n = sizeOf(shape);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.fround(rng.uniform(-1, 1));
  return hostTensor(shape, 'float32', data);
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Reduces outputs to a scalar with fixed cotangents: Σ_o Σ w_o·y_o (float64). */
function project(ys: HostTensor[], ws: HostTensor[]): number {
  let s = 0;
  ys.forEach((y, o) => (s += dot(y.data, ws[o]!.data)));
  return s;
}

/** Shifts input `i` by `t·u`. */
function shifted(xs: HostTensor[], i: number, u: HostTensor, t: number): HostTensor[] {
  return xs.map((x, j) =>
    j === i
      ? hostTensor(
          x.shape,
          x.dtype,
          x.data.map((v, e) => v + t * u.data[e]!),
        )
      : x,
  );
}

/**
 * Differentiates `c.run` on the backend (`gradients` with cotangents w drawn at random) and compares
 * ⟨∇_i f, u⟩ for a random direction u with the central difference of the float64 oracle on the host,
 * for every input in `wrt`. Also checks that the gradient leaves no tensor behind.
 *
 * The host side is float64, so the difference quotient has no float32 noise; with eps 1e-4 its
 * truncation error is ~1e-8 relative. The device side is float32: its error is a few ulps per
 * element times the length of the reductions involved, well under the default 1e-4 of Σ|∇f·u| (float32 reductions of ≤ 100 terms: ~1e-6).
 */
export async function checkGradient(ctx: SuiteContext, c: GradCase, rng: Rng): Promise<void> {
  const backend = ctx.backend;
  const eps = c.eps ?? 1e-4;
  const base = c.ref(c.inputs);
  const ws = base.map((y) => randomDirection(rng, y.shape));
  const us = c.wrt.map((i) => randomDirection(rng, c.inputs[i]!.shape));
  const xs = on(backend, () => c.inputs.map(upload));
  const wts = on(backend, () => ws.map(upload));
  let grads: HostTensor[];
  try {
    const before = snapshot(backend);
    const { value, grads: gs } = on(backend, () =>
      gradients(
        () => {
          const ys = asList(c.run(xs));
          if (ys.length !== ws.length) throw new Error(`${c.label}: ${ys.length} outputs, the oracle has ${ws.length}`);
          if (ys.length === 1) return ys[0]!;
          let total: Tensor | undefined;
          ys.forEach((y, o) => {
            const term = sum(mul(y, wts[o]!));
            total = total ? add(total, term) : term;
          });
          return total!;
        },
        c.wrt.map((i) => xs[i]!),
        ws.length === 1 ? wts[0]! : undefined,
      ),
    );
    grads = [];
    try {
      for (let j = 0; j < gs.length; j++) {
        const want = c.inputs[c.wrt[j]!]!;
        const g = gs[j]!;
        if (g.shape.length !== want.shape.length || g.shape.some((d, e) => d !== want.shape[e])) {
          throw new Error(
            `${ctx.name} ${c.label}: gradient of input ${c.wrt[j]} has shape ${formatShape(g.shape)}, expected ${formatShape(want.shape)}`,
          );
        }
        grads.push(await download(g));
      }
    } finally {
      value.dispose();
      dispose(gs);
    }
    assertNoLeak(before, snapshot(backend), `${ctx.name} ${c.label} (gradient)`);
  } finally {
    dispose(xs);
    dispose(wts);
  }
  const failures: string[] = [];
  c.wrt.forEach((i, j) => {
    const g = grads[j]!.data;
    const u = us[j]!;
    const analytic = dot(g, u.data);
    let absScale = 0;
    for (let e = 0; e < g.length; e++) absScale += Math.abs(g[e]! * u.data[e]!);
    const fPlus = project(c.ref(shifted(c.inputs, i, u, eps)), ws);
    const fMinus = project(c.ref(shifted(c.inputs, i, u, -eps)), ws);
    const fd = (fPlus - fMinus) / (2 * eps);
    const bound = ctx.tol.gradient * (absScale + Math.abs(fd)) + 1e-6;
    if (!(Math.abs(analytic - fd) <= bound)) {
      failures.push(
        `input ${i}: ⟨∇f, u⟩ = ${analytic}, finite difference ${fd} (|diff| ${Math.abs(analytic - fd).toExponential(3)}, allowed ${bound.toExponential(3)})`,
      );
    }
  });
  if (failures.length > 0) throw new Error(`${ctx.name} gradient of ${c.label}:\n  ${failures.join('\n  ')}`);
}

/** Makes a host tensor of `dtype` from plain values. */
export function host(shape: readonly number[], values: ArrayLike<number>, dtype: DType = 'float32'): HostTensor {
  return hostTensor(shape, dtype, Float64Array.from(values as ArrayLike<number>));
}

/** Runs a gradient case's backward once and checks that nothing is left behind (no value checks). */
export function checkGradientLeak(ctx: SuiteContext, c: GradCase): void {
  const backend = ctx.backend;
  const xs = on(backend, () => c.inputs.map(upload));
  try {
    const before = snapshot(backend);
    on(backend, () => {
      const { value, grads } = gradients(
        () => {
          const ys = asList(c.run(xs));
          let total: Tensor | undefined;
          for (const y of ys) {
            const term = sum(y);
            total = total ? add(total, term) : term;
          }
          return total!;
        },
        c.wrt.map((i) => xs[i]!),
      );
      value.dispose();
      dispose(grads);
    });
    assertNoLeak(before, snapshot(backend), `${ctx.name} ${c.label} (gradient)`);
  } finally {
    dispose(xs);
  }
}
