import { describe, expect, it } from 'vitest';
import {
  Adafactor,
  Adam,
  AdamW,
  clipGradNorm,
  gradients,
  InvalidArgumentError,
  Linear,
  matmul,
  mean,
  memory,
  type Optimizer,
  randomNormal,
  SGD,
  ShapeMismatchError,
  square,
  StateDictError,
  sub,
  type Tensor,
  tensor,
  tidy,
  type Variable,
  variable,
} from '../src/index.js';
import { expectClose, hostRandom } from './helpers.js';

type Vec = Float64Array<ArrayBuffer>;
const rms = (a: Vec): number => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);

// --- Independent float64 implementations of the published update rules ---------------------------

function sgdRef(opts: { lr: number; momentum: number; weightDecay: number; nesterov: boolean }) {
  let buf: Vec | null = null;
  return (p: Vec, g: Vec): Vec => {
    const d = g.map((gi, i) => gi + opts.weightDecay * p[i]!);
    let step = d;
    if (opts.momentum > 0) {
      buf = buf === null ? Float64Array.from(d) : buf.map((b, i) => opts.momentum * b + d[i]!);
      const b = buf;
      step = opts.nesterov ? d.map((di, i) => di + opts.momentum * b[i]!) : b;
    }
    return p.map((pi, i) => pi - opts.lr * step[i]!);
  };
}

function adamRef(opts: { lr: (t: number) => number; b1: number; b2: number; eps: number; wd: number; decoupled: boolean }) {
  let m: Vec | null = null;
  let v: Vec | null = null;
  let t = 0;
  return (p: Vec, g0: Vec): Vec => {
    t++;
    const lr = opts.lr(t);
    const g = opts.decoupled ? g0 : g0.map((gi, i) => gi + opts.wd * p[i]!);
    m = (m ?? new Float64Array(p.length)).map((mi, i) => opts.b1 * mi + (1 - opts.b1) * g[i]!);
    v = (v ?? new Float64Array(p.length)).map((vi, i) => opts.b2 * vi + (1 - opts.b2) * g[i]! ** 2);
    const mm = m;
    const vv = v;
    return p.map((pi, i) => {
      const mhat = mm[i]! / (1 - opts.b1 ** t);
      const vhat = vv[i]! / (1 - opts.b2 ** t);
      const decayed = opts.decoupled ? pi - lr * opts.wd * pi : pi;
      return decayed - (lr * mhat) / (Math.sqrt(vhat) + opts.eps);
    });
  };
}

/** Adafactor (Shazeer & Stern 2018, Alg. 4/5 + §8 relative step, trax defaults) on a [rows, cols] or rank-1 parameter. */
function adafactorRef(
  shape: number[],
  o: { lr?: number; beta1: number; decay: number; eps1: number; eps2: number; clip: number; scaleByParam: boolean; wd: number },
) {
  const factored = shape.length === 2;
  const [rows, cols] = factored ? (shape as [number, number]) : [1, shape[0]!];
  let R = new Float64Array(rows);
  let C = new Float64Array(cols);
  let V = new Float64Array(rows * cols);
  let M = new Float64Array(rows * cols);
  let t = 0;
  return (p: Vec, g: Vec): Vec => {
    t++;
    const beta2 = 1 - Math.pow(t, -o.decay);
    const lr = o.lr ?? Math.min(1e-2, 1 / Math.sqrt(t));
    const alpha = o.scaleByParam ? Math.max(o.eps2, rms(p)) * lr : lr;
    const g2 = g.map((x) => x * x + o.eps1);
    const vhat = new Float64Array(rows * cols);
    if (factored) {
      R = R.map((r, i) => {
        let s = 0;
        for (let j = 0; j < cols; j++) s += g2[i * cols + j]!;
        return beta2 * r + (1 - beta2) * (s / cols);
      });
      C = C.map((c, j) => {
        let s = 0;
        for (let i = 0; i < rows; i++) s += g2[i * cols + j]!;
        return beta2 * c + (1 - beta2) * (s / rows);
      });
      const meanR = R.reduce((a, b) => a + b, 0) / rows;
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) vhat[i * cols + j] = (R[i]! * C[j]!) / meanR;
    } else {
      V = V.map((v, i) => beta2 * v + (1 - beta2) * g2[i]!);
      vhat.set(V);
    }
    let u = g.map((x, i) => x / Math.sqrt(vhat[i]!));
    const denom = Math.max(1, rms(u) / o.clip);
    u = u.map((x) => (x / denom) * alpha);
    if (o.beta1 > 0) {
      M = M.map((m, i) => o.beta1 * m + (1 - o.beta1) * u[i]!);
      u = Float64Array.from(M);
    }
    return p.map((pi, i) => (1 - o.wd) * pi - u[i]!);
  };
}

/** Runs `opt` for the gradient sequence `gs` on `param`, comparing with `ref` after every step. */
async function compareSteps(
  opt: Optimizer,
  param: Variable,
  ref: (p: Vec, g: Vec) => Vec,
  gs: Float32Array[],
  tol = { rtol: 2e-5, atol: 1e-6 },
) {
  let p = Float64Array.from(await param.data());
  for (let k = 0; k < gs.length; k++) {
    const g = tensor(gs[k]!, param.shape);
    opt.step([g]);
    g.dispose();
    p = ref(p, Float64Array.from(gs[k]!));
    expect(opt.stepCount).toBe(k + 1);
    expectClose(await param.data(), p, tol.rtol, tol.atol, `${opt.constructor.name} step ${k + 1}`);
  }
}

function makeParam(shape: number[], seed: number): Variable {
  const init = tensor(
    hostRandom(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );
  const v = variable(init, 'p');
  init.dispose();
  return v;
}

const gradSeq = (n: number, seed: number, scale = 1): Float32Array[] =>
  [0, 1, 2].map((k) => hostRandom(n, seed + 17 * k).map((x) => x * scale));

describe('optimizers match float64 reference implementations over 3 steps', () => {
  const n = 6;

  for (const cfg of [
    { lr: 0.1, momentum: 0, weightDecay: 0, nesterov: false },
    { lr: 0.05, momentum: 0.9, weightDecay: 0.1, nesterov: false },
    { lr: 0.05, momentum: 0.8, weightDecay: 0, nesterov: true },
  ]) {
    it(`SGD ${JSON.stringify(cfg)}`, async () => {
      const p = makeParam([n], 1);
      const opt = new SGD([p], cfg);
      await compareSteps(opt, p, sgdRef(cfg), gradSeq(n, 2));
      opt.dispose();
      p.dispose();
    });
  }

  it('Adam (L2 weight decay) and a default Adam', async () => {
    for (const wd of [0, 0.1]) {
      const p = makeParam([2, 3], 3);
      const opt = new Adam([p], { lr: 0.01, weightDecay: wd });
      await compareSteps(opt, p, adamRef({ lr: () => 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd, decoupled: false }), gradSeq(n, 4));
      opt.dispose();
      p.dispose();
    }
  });

  it('AdamW (decoupled decay, default 0.01) with a schedule and custom betas', async () => {
    const p = makeParam([n], 5);
    const seen: number[] = [];
    const lr = (t: number): number => {
      seen.push(t);
      return 0.02 / t;
    };
    const opt = new AdamW([p], { lr, beta1: 0.8, beta2: 0.95 });
    expect(opt.weightDecay).toBe(0.01);
    await compareSteps(opt, p, adamRef({ lr: (t) => 0.02 / t, b1: 0.8, b2: 0.95, eps: 1e-8, wd: 0.01, decoupled: true }), gradSeq(n, 6));
    expect(seen).toEqual([1, 2, 3]);
    opt.dispose();
    p.dispose();
  });

  const adafactorDefaults = { beta1: 0, decay: 0.8, eps1: 1e-30, eps2: 1e-3, clip: 1, scaleByParam: true, wd: 0 };
  for (const shape of [[7], [3, 5]]) {
    it(`Adafactor with trax defaults, rank ${shape.length}`, async () => {
      const p = makeParam(shape, 7);
      const opt = new Adafactor([p]);
      const size = shape.reduce((a, b) => a * b, 1);
      await compareSteps(opt, p, adafactorRef(shape, adafactorDefaults), gradSeq(size, 8));
      const slots = [...opt.stateDict().tensors.keys()];
      expect(slots).toEqual(shape.length === 2 ? ['0.exp_avg_sq_row', '0.exp_avg_sq_col'] : ['0.exp_avg_sq']);
      opt.dispose();
      p.dispose();
    });

    it(`Adafactor with momentum, clipping, weight decay and a fixed lr, rank ${shape.length}`, async () => {
      const p = makeParam(shape, 9);
      const o = { ...adafactorDefaults, lr: 0.3, beta1: 0.9, clip: 0.5, wd: 0.01, scaleByParam: false };
      const opt = new Adafactor([p], { lr: 0.3, beta1: 0.9, clipThreshold: 0.5, weightDecay: 0.01, multiplyByParameterScale: false });
      const size = shape.reduce((a, b) => a * b, 1);
      // gradients of very different scales per step exercise the running averages
      const gs = gradSeq(size, 10).map((g, k) => g.map((x, i) => x * (1 + 3 * k) * (1 + (i % 3))));
      await compareSteps(opt, p, adafactorRef(shape, o), gs);
      opt.dispose();
      p.dispose();
    });
  }
});

describe('Optimizer', () => {
  it('rejects gradients of the wrong shape, count or name before changing anything', async () => {
    const a = makeParam([2, 3], 1);
    const b = makeParam([4], 2);
    const opt = new Adam(
      new Map([
        ['a', a],
        ['b', b],
      ]),
      { lr: 0.1 },
    );
    const before = Array.from(await a.data());
    const ga = tensor(new Float32Array(6), [2, 3]);
    const gWrong = tensor(new Float32Array(4), [2, 2]);
    const gb = tensor(new Float32Array(4), [4]);
    expect(() => opt.step([ga, gWrong])).toThrow(ShapeMismatchError);
    expect(() => opt.step([ga])).toThrow(InvalidArgumentError);
    expect(() =>
      opt.step(
        new Map([
          ['a', ga],
          ['c', gb],
        ]),
      ),
    ).toThrow(InvalidArgumentError);
    expect(opt.stepCount).toBe(0);
    expect(Array.from(await a.data())).toEqual(before);
    opt.step(
      new Map([
        ['b', gb],
        ['a', ga],
      ]),
    );
    expect(opt.stepCount).toBe(1);
    expect(() => new SGD([a, a], { lr: 1 })).toThrow(InvalidArgumentError);
    expect(() => new SGD([a], { lr: 1, nesterov: true })).toThrow(InvalidArgumentError);
    for (const t of [ga, gWrong, gb, a, b]) t.dispose();
    opt.dispose();
  });

  it('resumes from a state dict exactly as an uninterrupted run', async () => {
    const grads = gradSeq(6, 3);
    const runA = makeParam([2, 3], 4);
    const optA = new Adafactor(new Map([['w', runA]]), { beta1: 0.5 });
    for (const g of grads) {
      const t = tensor(g, [2, 3]);
      optA.step([t]);
      t.dispose();
    }

    const runB = makeParam([2, 3], 4);
    const optB = new Adafactor(new Map([['w', runB]]), { beta1: 0.5 });
    for (const g of grads.slice(0, 2)) {
      const t = tensor(g, [2, 3]);
      optB.step([t]);
      t.dispose();
    }
    const state = optB.stateDict();
    expect(state.step).toBe(2);
    expect([...state.tensors.keys()]).toEqual(['w.exp_avg_sq_row', 'w.exp_avg_sq_col', 'w.exp_avg']);
    const host = new Map<string, { shape: number[]; values: Float32Array }>();
    for (const [k, t] of state.tensors) host.set(k, { shape: [...t.shape], values: (await t.data()) as Float32Array });
    const paramHost = await runB.data();
    optB.dispose();
    runB.dispose();

    const init = tensor(paramHost, [2, 3]);
    const runC = variable(init, 'w');
    init.dispose();
    const optC = new Adafactor(new Map([['w', runC]]), { beta1: 0.5 });
    const bad = new Map(host);
    bad.delete('w.exp_avg');
    expect(() => optC.loadStateDict({ step: 2, tensors: bad })).toThrow(StateDictError);
    expect(optC.stepCount).toBe(0);
    optC.loadStateDict({ step: 2, tensors: host });
    expect(optC.stepCount).toBe(2);
    const t = tensor(grads[2]!, [2, 3]);
    optC.step([t]);
    t.dispose();
    expect(Array.from(await runC.data())).toEqual(Array.from(await runA.data()));
    for (const x of [runA, runC]) x.dispose();
    optA.dispose();
    optC.dispose();
  });

  for (const [label, make] of [
    ['SGD', (ps: Variable[]) => new SGD(ps, { lr: 0.01, momentum: 0.9 })],
    ['AdamW', (ps: Variable[]) => new AdamW(ps, { lr: 0.01 })],
    ['Adafactor', (ps: Variable[]) => new Adafactor(ps, { beta1: 0.9 })],
  ] as const) {
    it(`keeps live tensors and bytes flat over 50 steps (${label})`, () => {
      const model = new Linear({ inFeatures: 8, outFeatures: 4, seed: 1 });
      const x = randomNormal([16, 8], { seed: 2 });
      const y = randomNormal([16, 4], { seed: 3 });
      const opt = make(model.parameters());
      const counts: number[] = [];
      const bytes: number[] = [];
      for (let i = 0; i < 50; i++) {
        const clipped = tidy(() => {
          const { grads } = gradients(() => mean(square(sub(model.forward(x), y))), model.parameters());
          return clipGradNorm(grads, 1).grads;
        });
        // step() outside any tidy scope: it must free its own intermediates and old values
        opt.step(clipped);
        for (const g of clipped) g.dispose();
        counts.push(memory().liveTensors);
        bytes.push(memory().liveBytes);
      }
      expect(counts.every((c) => c === counts[0])).toBe(true);
      expect(bytes.every((b) => b === bytes[0])).toBe(true);
      const before = memory().liveTensors;
      const nSlots = opt.stateDict().tensors.size;
      opt.dispose();
      expect(memory().liveTensors).toBe(before - nSlots);
      model.dispose();
      x.dispose();
      y.dispose();
    });
  }

  it('fits y = W·x with a Linear layer and Adam: the loss drops by 10×', async () => {
    const Wtrue = tensor(hostRandom(12, 77), [3, 4]);
    const X = randomNormal([64, 4], { seed: 5 });
    const Y = matmul(X, Wtrue, false, true);
    const model = new Linear({ inFeatures: 4, outFeatures: 3, seed: 6 });
    const opt = new Adam(model.namedParameters(), { lr: 0.05 });
    const lossOf = (): Tensor => mean(square(sub(model.forward(X), Y)));
    const first = await tidy(lossOf).item();
    for (let i = 0; i < 200; i++) {
      tidy(() => {
        const { grads } = gradients(lossOf, model.parameters());
        opt.step(grads);
      });
    }
    const last = await tidy(lossOf).item();
    expect(first).toBeGreaterThan(0.1);
    expect(last).toBeLessThan(first / 10);
    for (const t of [Wtrue, X, Y]) t.dispose();
    model.dispose();
    opt.dispose();
  });
});

describe('clipGradNorm', () => {
  it('scales by min(1, maxNorm/(norm + 1e-6)) like a host computation and leaves inputs alone', async () => {
    const shapes = [[2, 3], [4], [1, 2, 2]];
    const hosts = shapes.map((s, k) =>
      hostRandom(
        s.reduce((a, b) => a * b, 1),
        30 + k,
      ).map((x) => x * 3),
    );
    const gs = hosts.map((h, k) => tensor(h, shapes[k]));
    const norm64 = Math.sqrt(hosts.reduce((s, h) => s + h.reduce((a, v) => a + v * v, 0), 0));
    for (const maxNorm of [0.5, 1e3]) {
      const { grads, norm } = clipGradNorm(gs, maxNorm);
      expect(await norm.item()).toBeCloseTo(norm64, 4);
      const scale = Math.min(1, maxNorm / (norm64 + 1e-6));
      for (let k = 0; k < gs.length; k++) {
        expect(grads[k]).not.toBe(gs[k]);
        expect(grads[k]!.shape).toEqual(shapes[k]);
        expectClose(
          await grads[k]!.data(),
          Array.from(hosts[k]!, (v) => v * scale),
          1e-5,
          1e-7,
          `clip ${maxNorm}`,
        );
        expect(Array.from(await gs[k]!.data())).toEqual(Array.from(hosts[k]!));
      }
      for (const t of [...grads, norm]) t.dispose();
    }
    for (const g of gs) g.dispose();
  });
});
