import { noGrad } from '../autograd.js';
import { tidy, withBackend } from '../engine.js';
import { BackendMismatchError, DTypeError, InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import { scalar } from '../ops/creation.js';
import { Tensor, Variable, variable } from '../tensor.js';
import { formatShape } from '../types.js';
import { checkNumber, isInteger } from '../validate.js';
import { loadNamedTensors, type LoadStateDictOptions, type LoadStateDictResult, type StateDictValue } from '../nn/state-dict.js';

/** A learning rate: a constant, or a schedule mapping the step number (1 for the first step) to a rate. */
export type LearningRate = number | ((step: number) => number);

/** The parameters an optimizer updates: named (e.g. `model.namedParameters()`) or a list (named `0`, `1`, ...). */
export type OptimizerParams = ReadonlyMap<string, Variable> | readonly Variable[];

/** Gradients for `Optimizer.step`: a list in parameter order, or a map by parameter name. */
export type Gradients = readonly Tensor[] | ReadonlyMap<string, Tensor>;

/** An optimizer's checkpoint: its step count and its state tensors by `<parameter name>.<slot>`. */
export interface OptimizerState {
  /** Number of steps taken. */
  step: number;
  /** State tensors (for example `dense.weight.exp_avg`). */
  tensors: Map<string, Tensor>;
}

/** What `Optimizer.loadStateDict` accepts: state tensors as tensors or host values. */
export interface OptimizerStateInput {
  /** Number of steps taken. */
  step: number;
  /** State tensors by `<parameter name>.<slot>`. */
  tensors: ReadonlyMap<string, StateDictValue>;
}

/** What {@link Optimizer}'s `update` rule gets for one parameter (for subclasses that implement a new optimizer). */
export interface ParamUpdate {
  /** The parameter's name. */
  readonly name: string;
  /** The parameter (assign its new value). */
  readonly param: Variable;
  /** Its gradient. */
  readonly grad: Tensor;
  /** Its state slots by slot name (assign their new values). */
  readonly slots: ReadonlyMap<string, Variable>;
  /** Learning rate of this step. */
  readonly lr: number;
  /** Step number, 1 for the first step. */
  readonly step: number;
}

/** A float32 scalar on the current backend (the update runs under the parameter's backend). @internal */
export const s = (v: number): Tensor => scalar(v);

/**
 * Base class of optimizers. Holds the parameters (by name), the state tensors of each parameter
 * ("slots", {@link Variable}s created at construction), the learning rate or schedule and the step
 * count.
 *
 * `step(grads)` applies one update to every parameter under `noGrad` and one `tidy` scope per
 * parameter: intermediates are freed, new values are assigned to the parameter and slot variables
 * (the old storages are freed), so the number of live tensors does not grow over steps.
 */
export abstract class Optimizer {
  /** The parameters, in order. */
  readonly params: readonly Variable[];
  /** The parameters' names, in the same order (map keys, or `0`, `1`, ... for a list). */
  readonly paramNames: readonly string[];
  /** Steps taken so far (the next step is `stepCount + 1`). */
  stepCount = 0;
  /** The learning rate or schedule. */
  lr: LearningRate;
  readonly #slots: Map<string, Variable>[];
  #disposed = false;

  /** Registers the parameters; subclasses then create their slots with {@link Optimizer.addSlot}. */
  protected constructor(params: OptimizerParams, lr: LearningRate) {
    const where = this.constructor.name;
    let entries: [string, Variable][];
    if (params instanceof Map) entries = [...(params as ReadonlyMap<string, Variable>).entries()];
    else if (Array.isArray(params)) entries = (params as readonly Variable[]).map((p, i) => [String(i), p]);
    else throw new InvalidArgumentError(`${where}: params must be a Map of name → Variable or an array of Variables.`);
    const seen = new Set<Variable>();
    for (const [name, p] of entries) {
      if (!(p instanceof Variable))
        throw new InvalidArgumentError(`${where}: parameter '${name}' is not a Variable (create it with variable()).`);
      if (p.dtype !== 'float32')
        throw new DTypeError(`${where}: parameter '${name}' is ${p.dtype}; only float32 parameters can be optimized.`);
      if (seen.has(p))
        throw new InvalidArgumentError(`${where}: parameter '${name}' is listed twice (it would be updated twice per step).`);
      p.ref();
      seen.add(p);
    }
    this.params = entries.map(([, p]) => p);
    this.paramNames = entries.map(([n]) => n);
    this.#slots = entries.map(() => new Map<string, Variable>());
    if (typeof lr !== 'function') checkNumber(where, 'lr', lr, 0);
    this.lr = lr;
  }

  /** Creates state slot `name` of parameter `index`, initialised with `init` (which is consumed). */
  protected addSlot(index: number, name: string, init: Tensor): Variable {
    const slots = this.#slots[index]!;
    const v = variable(init, `${this.paramNames[index]!}.${name}`);
    init.dispose();
    slots.set(name, v);
    return v;
  }

  /** The learning rate used at `step` (default: the next step). */
  learningRate(step = this.stepCount + 1): number {
    const lr = typeof this.lr === 'function' ? this.lr(step) : this.lr;
    if (typeof lr !== 'number' || !Number.isFinite(lr)) {
      throw new InvalidArgumentError(`${this.constructor.name}: the learning rate at step ${step} is ${lr}, not a finite number.`);
    }
    return lr;
  }

  /** One parameter's update: assigns new values to `u.param` and its slots. */
  protected abstract update(u: ParamUpdate): void;

  #matchGrads(grads: Gradients): Tensor[] {
    const where = `${this.constructor.name}.step`;
    let list: Tensor[];
    if (grads instanceof Map) {
      const map = grads as ReadonlyMap<string, Tensor>;
      const missing = this.paramNames.filter((n) => !map.has(n));
      const unknown = [...map.keys()].filter((n) => !this.paramNames.includes(n));
      if (missing.length || unknown.length) {
        throw new InvalidArgumentError(
          `${where}: the gradients do not match the parameters` +
            (missing.length ? `; missing: ${missing.join(', ')}` : '') +
            (unknown.length ? `; unknown: ${unknown.join(', ')}` : '') +
            '.',
        );
      }
      list = this.paramNames.map((n) => map.get(n)!);
    } else if (Array.isArray(grads)) {
      list = [...(grads as readonly Tensor[])];
      if (list.length !== this.params.length) {
        throw new InvalidArgumentError(`${where}: ${list.length} gradients given for ${this.params.length} parameters.`);
      }
    } else {
      throw new InvalidArgumentError(`${where}: grads must be an array of tensors (in parameter order) or a Map by parameter name.`);
    }
    list.forEach((g, i) => {
      const p = this.params[i]!;
      const name = this.paramNames[i]!;
      if (!(g instanceof Tensor)) throw new InvalidArgumentError(`${where}: the gradient of '${name}' is not a Tensor.`);
      if (g.dtype !== 'float32') throw new DTypeError(`${where}: the gradient of '${name}' is ${g.dtype}, float32 expected.`);
      if (g.rank !== p.rank || g.shape.some((d, j) => d !== p.shape[j])) {
        throw new ShapeMismatchError(
          `${where}: the gradient of '${name}' has shape ${formatShape(g.shape)}, the parameter ${formatShape(p.shape)}.`,
        );
      }
      if (g.backend !== p.backend) {
        throw new BackendMismatchError(
          `${where}: the gradient of '${name}' lives on backend '${g.backend.name}', the parameter on '${p.backend.name}'.`,
        );
      }
    });
    return list;
  }

  /**
   * Applies one update to every parameter with `grads` (in parameter order, or by name; every
   * parameter needs one, with its shape). All gradients are checked before anything changes. The
   * gradients are not disposed. Increments {@link Optimizer.stepCount}.
   */
  step(grads: Gradients): void {
    if (this.#disposed) throw new InvalidArgumentError(`${this.constructor.name}.step: the optimizer was disposed.`);
    const list = this.#matchGrads(grads);
    const step = this.stepCount + 1;
    const lr = this.learningRate(step);
    noGrad(() => {
      this.params.forEach((param, i) => {
        withBackend(param.backend, () =>
          tidy(() => {
            this.update({ name: this.paramNames[i]!, param, grad: list[i]!, slots: this.#slots[i]!, lr, step });
          }),
        );
      });
    });
    this.stepCount = step;
  }

  /** The state slots of every parameter by `<parameter name>.<slot>` (the live variables; do not dispose them). */
  #namedSlots(): Map<string, Variable> {
    const out = new Map<string, Variable>();
    this.#slots.forEach((slots, i) => {
      for (const [slot, v] of slots) out.set(`${this.paramNames[i]!}.${slot}`, v);
    });
    return out;
  }

  /**
   * The optimizer's state for a checkpoint: the step count and the state tensors by
   * `<parameter name>.<slot>` (the live state variables themselves: serialise them, do not dispose them).
   */
  stateDict(): OptimizerState {
    return { step: this.stepCount, tensors: new Map<string, Tensor>(this.#namedSlots()) };
  }

  /**
   * Restores a checkpoint made by {@link Optimizer.stateDict} (tensors or host values). Every name
   * and shape is checked first; problems are reported together in one `StateDictError` and then
   * nothing changes.
   */
  loadStateDict(state: OptimizerStateInput, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const { strict = true } = options;
    const where = `${this.constructor.name}.loadStateDict`;
    if (state === null || typeof state !== 'object' || !isInteger(state.step, 0)) {
      throw new InvalidArgumentError(`${where}: expected { step: non-negative integer, tensors: Map }, got step ${String(state?.step)}.`);
    }
    const result = loadNamedTensors(where, this.#namedSlots(), state.tensors, strict);
    this.stepCount = state.step;
    return result;
  }

  /** Frees the state tensors (not the parameters). */
  dispose(): void {
    for (const slots of this.#slots) for (const v of slots.values()) v.dispose();
    this.#disposed = true;
  }
}
