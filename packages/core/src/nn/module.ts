import { formatValue } from '../format.js';
import { InvalidArgumentError } from '../errors.js';
import { variable, type Tensor, type Variable } from '../tensor.js';
import { loadNamedTensors, type LoadStateDictOptions, type LoadStateDictResult, type StateDictValue } from './state-dict.js';

/**
 * Base class of layers and models: a tree of named parameters ({@link Variable}s) and named
 * submodules, with a training flag.
 *
 * Subclasses register their parameters with {@link Module.addParameter} and their children with
 * {@link Module.addModule} in their constructor, and define their own `forward(...)` (whose signature
 * depends on the layer). Parameter names are dotted paths in registration order, as in PyTorch and
 * Hugging Face: a parameter `weight` of a child `dense` of a child `feed_forward` of the third entry
 * of a {@link ModuleList} registered as `layers` is `layers.2.feed_forward.dense.weight`. Each
 * variable's `name` is kept equal to its dotted path below the module it was last registered into.
 *
 * Parameters hold backend memory until {@link Module.dispose} is called; `tidy` never disposes them.
 */
export abstract class Module {
  /**
   * Training mode (the default): layers such as {@link Dropout} are active. Set recursively with
   * {@link Module.train} and {@link Module.eval}.
   */
  training = true;
  readonly #params = new Map<string, Variable>();
  readonly #modules = new Map<string, Module>();

  #checkName(kind: string, name: string): void {
    if (typeof name !== 'string' || name === '' || name.includes('.')) {
      throw new InvalidArgumentError(`${this.constructor.name}: ${kind} name ${formatValue(name)} must be a non-empty string without '.'.`);
    }
    if (this.#params.has(name) || this.#modules.has(name)) {
      throw new InvalidArgumentError(`${this.constructor.name}: the name '${name}' is already registered.`);
    }
  }

  /**
   * Registers a parameter: creates a {@link Variable} named `name` from `init` and disposes `init`
   * (so pass a fresh tensor, e.g. `randomNormal(...)`). Returns the variable.
   */
  protected addParameter(name: string, init: Tensor): Variable {
    this.#checkName('parameter', name);
    const v = variable(init, name);
    init.dispose();
    this.#params.set(name, v);
    return v;
  }

  /**
   * Registers a submodule under `name` (its parameters become `name.<their names>`). Returns `m`.
   */
  protected addModule<M extends Module>(name: string, m: M): M {
    this.#checkName('module', name);
    const mod: unknown = m;
    if (!(mod instanceof Module)) throw new InvalidArgumentError(`${this.constructor.name}.addModule('${name}'): not a Module.`);
    if (mod === this) throw new InvalidArgumentError(`${this.constructor.name}.addModule('${name}'): a module cannot contain itself.`);
    this.#modules.set(name, m);
    for (const [sub, v] of m.#entries('')) v.name = `${name}.${sub}`;
    return m;
  }

  /** Every (dotted name, variable) pair, in registration order, aliases included. */
  *#entries(prefix: string): Generator<[string, Variable]> {
    for (const [name, v] of this.#params) yield [prefix + name, v];
    for (const [name, m] of this.#modules) yield* m.#entries(`${prefix}${name}.`);
  }

  /** The direct submodules by name, in registration order. */
  namedChildren(): Map<string, Module> {
    return new Map(this.#modules);
  }

  /**
   * Every parameter of this module and its submodules by dotted name: the module's own parameters
   * in registration order, then each submodule's in registration order (as PyTorch). A variable
   * registered twice (shared weights) appears once, under its first name.
   */
  namedParameters(): Map<string, Variable> {
    const out = new Map<string, Variable>();
    const seen = new Set<Variable>();
    for (const [name, v] of this.#entries('')) {
      if (seen.has(v)) continue;
      seen.add(v);
      out.set(name, v);
    }
    return out;
  }

  /** The parameters in the order of {@link Module.namedParameters} (each variable once). */
  parameters(): Variable[] {
    return [...this.namedParameters().values()];
  }

  /** Total number of parameter elements (each shared variable counted once). */
  numParameters(): number {
    let n = 0;
    for (const v of this.namedParameters().values()) n += v.size;
    return n;
  }

  /**
   * The parameters by dotted name, every name included (a shared variable appears under each of its
   * names, as in PyTorch). The values are the live parameter variables themselves, not copies: read
   * them (`await t.data()`) or serialise them, but do not dispose them.
   */
  stateDict(): Map<string, Tensor> {
    return new Map<string, Tensor>(this.#entries(''));
  }

  /**
   * Replaces parameter values with those of `tensors` (by dotted name, as {@link Module.stateDict}
   * names them). Values are tensors (shared without copy when on the parameter's backend) or host
   * values `{ shape, values }` such as the `HostTensor`s of a parsed safetensors file.
   *
   * Every name is checked before anything is assigned: missing names, unexpected names and
   * shape/dtype mismatches are all reported together in one {@link StateDictError}, and then nothing
   * is changed. With `strict: false`, missing and unexpected names are allowed and returned.
   */
  loadStateDict(tensors: ReadonlyMap<string, StateDictValue>, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const { strict = true } = options;
    const targets = new Map<string, Variable>(this.#entries(''));
    return loadNamedTensors(`${this.constructor.name}.loadStateDict`, targets, tensors, strict);
  }

  /** Sets training mode (`on = true`) or evaluation mode on this module and every submodule. */
  train(on = true): this {
    this.training = on;
    for (const m of this.#modules.values()) m.train(on);
    return this;
  }

  /** Evaluation mode for this module and every submodule: `train(false)`. */
  eval(): this {
    return this.train(false);
  }

  /** Disposes every parameter of this module and its submodules. The module is unusable afterwards. */
  dispose(): void {
    for (const v of this.#params.values()) v.dispose();
    for (const m of this.#modules.values()) m.dispose();
  }
}

/**
 * An indexed list of submodules, named `0`, `1`, ... (a layer stack: `layers.0.attention...`).
 * Iterable; `get(i)` returns an entry.
 */
export class ModuleList<M extends Module = Module> extends Module implements Iterable<M> {
  readonly #items: M[] = [];

  /** Registers `modules` in order. */
  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.push(m);
  }

  /** Appends `m` under the next index and returns it. */
  push(m: M): M {
    this.addModule(String(this.#items.length), m);
    this.#items.push(m);
    return m;
  }

  /** Number of entries. */
  get length(): number {
    return this.#items.length;
  }

  /** Entry `index` (negative counts from the end); throws `InvalidArgumentError` when out of range. */
  get(index: number): M {
    const i = index < 0 ? index + this.#items.length : index;
    const m = Number.isInteger(i) ? this.#items[i] : undefined;
    if (!m) throw new InvalidArgumentError(`ModuleList.get(${index}): index out of range for ${this.#items.length} entries.`);
    return m;
  }

  /** Iterates over the entries in order. */
  [Symbol.iterator](): Iterator<M> {
    return this.#items[Symbol.iterator]();
  }
}
