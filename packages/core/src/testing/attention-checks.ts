/**
 * Checks of the fused chunked-attention kernel through the public `chunkedAttention` op: forward
 * against the dense oracle, backward against the analytic oracle, a random-direction finite
 * difference through both outputs, the reference backend, and leaks.
 */
import { gradients } from '../autograd.js';
import { dispose } from '../engine.js';
import { tensor } from '../ops/creation.js';
import { add, mul } from '../ops/elementwise.js';
import { chunkedAttention, type ChunkedAttentionOptions } from '../ops/fused.js';
import { sum } from '../ops/reduce.js';
import type { Tensor } from '../tensor.js';
import { attentionBackwardRef, attentionRef, type AttentionProblem } from './attention.js';
import type { Rng } from './cases.js';
import { assertClose, assertNoLeak, checkGradient, download, on, snapshot, type SuiteContext } from './harness.js';
import { hostTensor, type HostTensor } from './oracles.js';

/** The problem's tensors on the current backend: q, k, v and the int32 extras. @internal */
export interface ProblemTensors {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  extras: Tensor[];
  options: ChunkedAttentionOptions;
}

function optionsOf(p: AttentionProblem, extras: { positions?: Tensor; keyMask?: Tensor; buckets?: Tensor }): ChunkedAttentionOptions {
  return {
    chunkLength: p.chunkLength,
    chunksBefore: p.chunksBefore,
    chunksAfter: p.chunksAfter,
    causal: p.causal,
    excludeSelf: p.excludeSelf,
    scale: p.scale,
    ...(p.dropout ? { dropout: p.dropout } : {}),
    ...extras,
  };
}

/** The int32 extras of a problem as host tensors, in a fixed order (positions, keyMask, buckets). */
function extraHosts(p: AttentionProblem): { name: 'positions' | 'keyMask' | 'buckets'; host: HostTensor }[] {
  const out: { name: 'positions' | 'keyMask' | 'buckets'; host: HostTensor }[] = [];
  if (p.positions) out.push({ name: 'positions', host: hostTensor([p.B, p.H, p.N], 'int32', Float64Array.from(p.positions)) });
  if (p.keyMask) out.push({ name: 'keyMask', host: hostTensor([p.B, p.L], 'int32', Float64Array.from(p.keyMask)) });
  if (p.buckets) out.push({ name: 'buckets', host: hostTensor([p.B, p.H, p.N], 'int32', Float64Array.from(p.buckets)) });
  return out;
}

/** Uploads a problem's q, k, v and int32 extras and builds its `chunkedAttention` options. @internal */
export function uploadProblem(p: AttentionProblem): ProblemTensors {
  const q = tensor(Float32Array.from(p.q), [p.B, p.H, p.N, p.d]);
  const k = tensor(Float32Array.from(p.k), [p.B, p.H, p.N, p.d]);
  const v = tensor(Float32Array.from(p.v), [p.B, p.H, p.N, p.dv]);
  const named: { positions?: Tensor; keyMask?: Tensor; buckets?: Tensor } = {};
  const extras: Tensor[] = [];
  for (const { name, host } of extraHosts(p)) {
    const t = tensor(Int32Array.from(host.data), host.shape, 'int32');
    named[name] = t;
    extras.push(t);
  }
  return { q, k, v, extras, options: optionsOf(p, named) };
}

function disposeProblem(t: ProblemTensors): void {
  dispose([t.q, t.k, t.v, ...t.extras]);
}

/** Forward: out and lse against the dense oracle (lse rounded to float32 as the contract says). */
export async function checkAttentionForward(ctx: SuiteContext, p: AttentionProblem): Promise<void> {
  const tol = { atol: ctx.tol.attention, rtol: ctx.tol.attention };
  const want = attentionRef(p);
  const what = `${ctx.name} chunkedAttention ${p.label}`;
  const run = async (backend: typeof ctx.backend): Promise<{ out: HostTensor; lse: HostTensor }> => {
    const t = on(backend, () => uploadProblem(p));
    try {
      const before = snapshot(backend);
      const r = on(backend, () => chunkedAttention(t.q, t.k, t.v, t.options));
      let out: HostTensor;
      let lse: HostTensor;
      try {
        const shapeOk = (x: Tensor, s: number[]) => x.shape.length === s.length && x.shape.every((d, i) => d === s[i]);
        if (!shapeOk(r.out, [p.B, p.H, p.N, p.dv]) || !shapeOk(r.lse, [p.B, p.H, p.N])) {
          throw new Error(
            `${what}: out ${JSON.stringify(r.out.shape)} / lse ${JSON.stringify(r.lse.shape)}, expected [${p.B}, ${p.H}, ${p.N}, ${p.dv}] / [${p.B}, ${p.H}, ${p.N}]`,
          );
        }
        out = await download(r.out);
        lse = await download(r.lse);
      } finally {
        dispose([r.out, r.lse]);
      }
      assertNoLeak(before, snapshot(backend), `${what} (forward)`);
      return { out, lse };
    } finally {
      disposeProblem(t);
    }
  };
  const got = await run(ctx.backend);
  assertClose(got.out.data, want.out, tol, `${what}: out`, got.out.shape, want.outScale);
  assertClose(got.lse.data, want.lse, tol, `${what}: lse`, got.lse.shape);
  if (ctx.reference) {
    const ref = await run(ctx.reference);
    assertClose(got.out.data, ref.out.data, tol, `${what}: out vs reference '${ctx.reference.name}'`, got.out.shape, want.outScale);
    assertClose(got.lse.data, ref.lse.data, tol, `${what}: lse vs reference '${ctx.reference.name}'`, got.lse.shape);
  }
}

function randomCotangent(rng: Rng, n: number): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.fround(rng.uniform(-1, 1));
  return a;
}

/** Backward: dq, dk, dv from random dOut and dLse against the analytic oracle. */
export async function checkAttentionBackward(ctx: SuiteContext, p: AttentionProblem, rng: Rng): Promise<void> {
  const tol = { atol: ctx.tol.attention, rtol: ctx.tol.attention };
  const dOut = randomCotangent(rng, p.B * p.H * p.N * p.dv);
  const dLse = randomCotangent(rng, p.B * p.H * p.N);
  const want = attentionBackwardRef(p, dOut, dLse);
  const what = `${ctx.name} chunkedAttention backward ${p.label}`;
  const run = async (backend: typeof ctx.backend): Promise<HostTensor[]> => {
    const t = on(backend, () => uploadProblem(p));
    const dOutT = on(backend, () => tensor(Float32Array.from(dOut), [p.B, p.H, p.N, p.dv]));
    const dLseT = on(backend, () => tensor(Float32Array.from(dLse), [p.B, p.H, p.N]));
    try {
      const before = snapshot(backend);
      const { value, grads } = on(backend, () =>
        gradients(() => {
          const { out, lse } = chunkedAttention(t.q, t.k, t.v, t.options);
          return add(sum(mul(out, dOutT)), sum(mul(lse, dLseT)));
        }, [t.q, t.k, t.v]),
      );
      let hosts: HostTensor[];
      try {
        hosts = [];
        for (const g of grads) hosts.push(await download(g));
      } finally {
        value.dispose();
        dispose(grads);
      }
      assertNoLeak(before, snapshot(backend), `${what} (gradient)`);
      return hosts;
    } finally {
      disposeProblem(t);
      dispose([dOutT, dLseT]);
    }
  };
  const [dq, dk, dv] = await run(ctx.backend);
  assertClose(dq!.data, want.dq, tol, `${what}: dq`, dq!.shape, want.dqScale);
  assertClose(dk!.data, want.dk, tol, `${what}: dk`, dk!.shape, want.dkScale);
  assertClose(dv!.data, want.dv, tol, `${what}: dv`, dv!.shape, want.dvScale);
  if (ctx.reference) {
    const [rq, rk, rv] = await run(ctx.reference);
    assertClose(dq!.data, rq!.data, tol, `${what}: dq vs reference`, dq!.shape, want.dqScale);
    assertClose(dk!.data, rk!.data, tol, `${what}: dk vs reference`, dk!.shape, want.dkScale);
    assertClose(dv!.data, rv!.data, tol, `${what}: dv vs reference`, dv!.shape, want.dvScale);
  }
}

/**
 * Random-direction finite differences through out and lse, with respect to q, k and v. The host
 * function is the float64 oracle with the float32 rounding of lse frozen at the base point (a
 * constant per query): smooth, and with exactly the derivative the kernel is specified to compute
 * (docs/attention-semantics.md §6: back-propagate through the rounded values as if rounding were the
 * identity). The lse
 * output is shifted by its base value so that −1e9-sized constants cancel exactly.
 */
export async function checkAttentionFiniteDifference(ctx: SuiteContext, p: AttentionProblem, rng: Rng): Promise<void> {
  const base = attentionRef(p);
  const offset = base.lse.map((v, i) => v - base.lseExact[i]!);
  const extras = extraHosts(p);
  const qh = hostTensor([p.B, p.H, p.N, p.d], 'float32', p.q);
  const kh = hostTensor([p.B, p.H, p.N, p.d], 'float32', p.k);
  const vh = hostTensor([p.B, p.H, p.N, p.dv], 'float32', p.v);
  await checkGradient(
    ctx,
    {
      label: `chunkedAttention ${p.label}`,
      inputs: [qh, kh, vh, ...extras.map((e) => e.host)],
      wrt: [0, 1, 2],
      run: ([q, k, v, ...rest]) => {
        const named: { positions?: Tensor; keyMask?: Tensor; buckets?: Tensor } = {};
        extras.forEach((e, i) => (named[e.name] = rest[i]!));
        const { out, lse } = chunkedAttention(q!, k!, v!, optionsOf(p, named));
        return [out, lse];
      },
      ref: ([q, k, v]) => {
        const r = attentionRef({ ...p, q: q!.data, k: k!.data, v: v!.data }, { kind: 'offset', offset });
        return [
          hostTensor([p.B, p.H, p.N, p.dv], 'float32', r.out),
          hostTensor(
            [p.B, p.H, p.N],
            'float32',
            r.lse.map((x, i) => x - base.lse[i]!),
          ),
        ];
      },
    },
    rng,
  );
}

/**
 * Dropout through the kernel, measured: with q = k = 0 every allowed logit is 0, so with no masks each
 * query's probabilities are 1/W over its W window keys, and with v = 1 (dv = 1)
 * `out · W · (1 − rate)` is the number of kept keys of that query — an integer. Over B·H·N·W pairs the
 * kept fraction must be within 5 standard deviations of 1 − rate, every row's count an integer in
 * [0, W], the rows not all equal, and a second seed must give a different mask.
 */
export async function checkAttentionDropoutRate(ctx: SuiteContext): Promise<void> {
  const [B, H, N, c, before, after] = [2, 2, 256, 32, 1, 2];
  const W = c * (before + 1 + after);
  const rate = 0.25;
  const what = `${ctx.name} chunkedAttention dropout rate ${rate}`;
  const run = async (seed: number): Promise<Float32Array> => {
    const q = tensor(new Float32Array(B * H * N), [B, H, N, 1]);
    const v = tensor(new Float32Array(B * H * N).fill(1), [B, H, N, 1]);
    try {
      const before0 = snapshot(ctx.backend);
      const { out, lse } = chunkedAttention(q, q, v, { chunkLength: c, chunksBefore: before, chunksAfter: after, dropout: { rate, seed } });
      const host = await download(out);
      dispose([out, lse]);
      assertNoLeak(before0, snapshot(ctx.backend), what);
      return Float32Array.from(host.data);
    } finally {
      dispose([q, v]);
    }
  };
  const a = await run(0x1234_5678_9a);
  const b = await run(0x1234_5678_9b);
  let kept = 0;
  const counts = new Set<number>();
  for (let i = 0; i < a.length; i++) {
    const count = a[i]! * W * (1 - rate);
    const n = Math.round(count);
    if (Math.abs(count - n) > 1e-3 * W || n < 0 || n > W) {
      throw new Error(`${what}: query ${i} kept ${count} of ${W} keys, expected an integer in [0, ${W}]`);
    }
    kept += n;
    counts.add(n);
  }
  const pairs = a.length * W;
  const frac = kept / pairs;
  const sd = Math.sqrt((rate * (1 - rate)) / pairs);
  if (Math.abs(frac - (1 - rate)) > 5 * sd) {
    throw new Error(`${what}: kept fraction ${frac.toFixed(5)} over ${pairs} pairs, expected ${1 - rate} ± ${(5 * sd).toFixed(5)} (5 sd)`);
  }
  if (counts.size < 5) throw new Error(`${what}: only ${counts.size} distinct kept counts over ${a.length} queries`);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  if (same === a.length) throw new Error(`${what}: two seeds gave the same mask`);
}

/**
 * `byPosition`: q, k, v as rows per position (random), the problem's slots reading them through its
 * positions. Forward (out, lse) against the dense oracle of the problem with those rows gathered into
 * slot order, and the gradients of the rows against the analytic slot gradients added up per position
 * (their error scales too). Problems without positions are skipped.
 */
export async function checkAttentionByPosition(ctx: SuiteContext, p: AttentionProblem, rng: Rng): Promise<void> {
  const pos = p.positions;
  if (pos === undefined) return;
  const tol = { atol: ctx.tol.attention, rtol: ctx.tol.attention };
  const { B, H, N, L, d, dv } = p;
  const rowsQ = randomCotangent(rng, B * H * L * d);
  const rowsK = randomCotangent(rng, B * H * L * d);
  const rowsV = randomCotangent(rng, B * H * L * dv);
  /** Slot i's copy of its position's row, `[B, H, N, w]`. */
  const toSlots = (rows: Float64Array, w: number) => {
    const out = new Float64Array(B * H * N * w);
    for (let bh = 0; bh < B * H; bh++) {
      for (let i = 0; i < N; i++)
        out.set(rows.subarray((bh * L + pos[bh * N + i]!) * w, (bh * L + pos[bh * N + i]! + 1) * w), (bh * N + i) * w);
    }
    return out;
  };
  /** Every slot's `[B, H, N, w]` row added into its position's row (absolute values with `abs`). */
  const toRows = (slots: Float64Array, w: number, abs = false) => {
    const out = new Float64Array(B * H * L * w);
    for (let bh = 0; bh < B * H; bh++) {
      for (let i = 0; i < N; i++) {
        for (let e = 0; e < w; e++) {
          const x = slots[(bh * N + i) * w + e]!;
          out[(bh * L + pos[bh * N + i]!) * w + e]! += abs ? Math.abs(x) : x;
        }
      }
    }
    return out;
  };
  const slotted: AttentionProblem = { ...p, q: toSlots(rowsQ, d), k: toSlots(rowsK, d), v: toSlots(rowsV, dv) };
  const want = attentionRef(slotted);
  const dOut = randomCotangent(rng, B * H * N * dv);
  const dLse = randomCotangent(rng, B * H * N);
  const grads = attentionBackwardRef(slotted, dOut, dLse);
  const what = `${ctx.name} chunkedAttention byPosition ${p.label}`;
  const t = uploadProblem(p);
  const q = tensor(Float32Array.from(rowsQ), [B, H, L, d]);
  const k = tensor(Float32Array.from(rowsK), [B, H, L, d]);
  const v = tensor(Float32Array.from(rowsV), [B, H, L, dv]);
  const dOutT = tensor(Float32Array.from(dOut), [B, H, N, dv]);
  const dLseT = tensor(Float32Array.from(dLse), [B, H, N]);
  const options = { ...t.options, byPosition: true };
  try {
    const before = snapshot(ctx.backend);
    const r = chunkedAttention(q, k, v, options);
    const [out, lse] = [await download(r.out), await download(r.lse)];
    dispose([r.out, r.lse]);
    assertClose(out.data, want.out, tol, `${what}: out`, out.shape, want.outScale);
    assertClose(lse.data, want.lse, tol, `${what}: lse`, lse.shape);
    const { value, grads: got } = gradients(() => {
      const { out: o, lse: l } = chunkedAttention(q, k, v, options);
      return add(sum(mul(o, dOutT)), sum(mul(l, dLseT)));
    }, [q, k, v]);
    const hosts: HostTensor[] = [];
    try {
      for (const g of got) hosts.push(await download(g));
    } finally {
      value.dispose();
      dispose(got);
    }
    assertNoLeak(before, snapshot(ctx.backend), what);
    const [dq, dk, dvRows] = hosts;
    assertClose(dq!.data, toRows(grads.dq, d), tol, `${what}: dq`, dq!.shape, toRows(grads.dqScale, d, true));
    assertClose(dk!.data, toRows(grads.dk, d), tol, `${what}: dk`, dk!.shape, toRows(grads.dkScale, d, true));
    assertClose(dvRows!.data, toRows(grads.dv, dv), tol, `${what}: dv`, dvRows!.shape, toRows(grads.dvScale, dv, true));
  } finally {
    disposeProblem(t);
    dispose([q, k, v, dOutT, dLseT]);
  }
}
