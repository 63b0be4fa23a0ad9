import { activeTape, noGrad, record, tidy } from './engine.js';
import { GradientError } from './errors.js';
import { add } from './ops/elementwise.js';
import { onesLike, zerosLike, zeros } from './ops/creation.js';
import { clone } from './ops/layout.js';
import { state, type Tape } from './state.js';
import { Tensor } from './tensor.js';
import { formatShape } from './types.js';

export { noGrad };

/** Value and gradients returned by {@link gradients}. */
export interface ValueAndGrads {
  /** What `f` returned. */
  value: Tensor;
  /** d value / d wrt[i], one per `wrt` entry (zeros where `value` does not depend on it). */
  grads: Tensor[];
}

/**
 * Reverse-mode differentiation: runs `f` while recording the ops that depend on `wrt`, then walks the
 * tape backwards. `f` must return a float32 tensor: a scalar, or any shape with `dy` given (the
 * cotangent). Every intermediate of `f` and of the backward pass is freed before returning; the tape
 * is freed too. Gradient functions themselves run without recording (no higher-order gradients), but
 * may call `gradients` again (reversible layers recompute under a local tape this way).
 */
export function gradients(f: () => Tensor, wrt: readonly Tensor[], dy?: Tensor): ValueAndGrads {
  for (const w of wrt) {
    w.ref();
    if (w.dtype !== 'float32')
      throw new GradientError(`gradients: can only differentiate with respect to float32 tensors, got ${w.toString()}.`);
  }
  const tape: Tape = { tracked: new Set(wrt.map((w) => w.id)), nodes: [] };
  state.tapes.push(tape);
  let value: Tensor;
  try {
    value = tidy(f);
  } catch (err) {
    releaseTape(tape);
    throw err;
  } finally {
    state.tapes.pop();
  }
  const reject = (message: string): never => {
    releaseTape(tape);
    if (value instanceof Tensor) value.dispose();
    throw new GradientError(message);
  };
  if (!(value instanceof Tensor) || value.dtype !== 'float32') {
    reject('gradients: the function must return a float32 tensor.');
  }
  if (dy === undefined && value.size !== 1) {
    reject(`gradients: the function returned shape ${formatShape(value.shape)}; return a scalar (e.g. sum or mean) or pass dy.`);
  }
  if (dy !== undefined && (dy.rank !== value.rank || dy.shape.some((d, i) => d !== value.shape[i]))) {
    reject(`gradients: dy ${formatShape(dy.shape)} must have the shape of the value ${formatShape(value.shape)}.`);
  }
  try {
    const grads = noGrad(() => backward(tape, value, dy, wrt));
    return { value, grads };
  } finally {
    releaseTape(tape);
  }
}

function releaseTape(tape: Tape): void {
  for (const node of tape.nodes) for (const t of node.saved) t.dispose();
  tape.nodes.length = 0;
}

function backward(tape: Tape, value: Tensor, dy: Tensor | undefined, wrt: readonly Tensor[]): Tensor[] {
  // Gradients accumulated so far, by tensor id. Each entry owns its tensor exclusively.
  const pending = new Map<number, Tensor>();
  pending.set(value.id, dy ? clone(dy) : onesLike(value));
  for (let n = tape.nodes.length - 1; n >= 0; n--) {
    const node = tape.nodes[n]!;
    if (!node.outputIds.some((id) => pending.has(id))) continue;
    const dys = node.outputIds.map((id, i) => {
      const g = pending.get(id);
      pending.delete(id);
      return g ?? zeros(node.outputShapes[i]!);
    });
    const inputGrads = tidy(() => [...node.backward(dys, node.saved)]);
    const claimed = new Set<Tensor>();
    node.inputIds.forEach((id, i) => {
      const g = inputGrads[i];
      if (!g || !tape.tracked.has(id)) return;
      const shape = node.inputShapes[i]!;
      if (g.rank !== shape.length || g.shape.some((d, j) => d !== shape[j])) {
        throw new GradientError(`internal: gradient of shape ${formatShape(g.shape)} for an input of shape ${formatShape(shape)}.`);
      }
      const prev = pending.get(id);
      if (prev) {
        pending.set(id, add(prev, g));
        prev.dispose();
      } else if (claimed.has(g) || dys.includes(g) || node.saved.includes(g)) {
        pending.set(id, clone(g));
      } else {
        claimed.add(g);
        pending.set(id, g);
      }
    });
    for (const t of [...dys, ...inputGrads]) if (t && !claimed.has(t)) t.dispose();
  }
  const out: Tensor[] = [];
  const returned = new Set<Tensor>();
  for (const w of wrt) {
    const g = pending.get(w.id);
    if (!g) out.push(zerosLike(w));
    else if (returned.has(g)) out.push(clone(g));
    else {
      returned.add(g);
      out.push(g);
    }
  }
  for (const g of pending.values()) if (!returned.has(g)) g.dispose();
  return out;
}

/**
 * `grad(f)` is a function returning df/dx for every argument of `f` (which must return a scalar).
 */
export function grad<A extends Tensor[]>(f: (...args: A) => Tensor): (...args: A) => Tensor[] {
  return (...args: A) => {
    const { value, grads } = gradients(() => f(...args), args);
    value.dispose();
    return grads;
  };
}

/** `valueAndGrad(f)` returns `f`'s value and its gradients with respect to every argument. */
export function valueAndGrad<A extends Tensor[]>(f: (...args: A) => Tensor): (...args: A) => ValueAndGrads {
  return (...args: A) => gradients(() => f(...args), args);
}

/** What the function given to {@link customGrad} returns. */
export interface CustomGradResult {
  /** The output(s). */
  value: Tensor | Tensor[];
  /** Tensors the gradient needs; they stay alive until the backward pass is done. */
  save?: Tensor[];
  /**
   * Given the gradient of every output (zeros where none) and the saved tensors, returns one
   * gradient (or null) per argument. May call `gradients` for a local recompute.
   */
  gradFunc: (dys: Tensor[], saved: readonly Tensor[]) => (Tensor | null | undefined)[];
}

/**
 * Defines an op with a hand-written gradient. The forward runs without recording (nothing inside is
 * kept for the backward unless listed in `save`); the backward is `gradFunc`. Reversible layers and
 * chunked recompute are built on this. Pass every tensor you need a gradient for (parameters too) as
 * an argument.
 */
export function customGrad<A extends Tensor[]>(f: (...args: A) => CustomGradResult): (...args: A) => Tensor | Tensor[] {
  return (...args: A) => {
    const tape = activeTape();
    const result = noGrad(() => f(...args));
    const outputs = (Array.isArray(result.value) ? result.value : [result.value]).map((t) => (args.includes(t) ? clone(t) : t));
    if (tape && args.some((t) => tape.tracked.has(t.id))) {
      record(args, outputs, (dys, saved) => result.gradFunc(dys, saved), result.save ?? []);
    }
    return Array.isArray(result.value) ? outputs : outputs[0]!;
  };
}
