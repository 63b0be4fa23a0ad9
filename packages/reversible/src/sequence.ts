import {
  InvalidArgumentError,
  ModuleList,
  ReplayRecord,
  add,
  customGrad,
  deriveSeed,
  gradients,
  nextSeed,
  noGrad,
  seedScope,
  sub,
  tidy,
  zerosLike,
  type Tensor,
} from '@reformer/core';
import { ReversibleBlock, callSubLayer, checkHalves, checkSubLayerShape, uniqueTensors, type SubLayer } from './block.js';
import { exportRecord, importRecord, splitOptions } from './replay-io.js';

/**
 * Debug hook of {@link ReversibleSequence}: called during the reversible backward pass with the inputs
 * `(x1, x2)` of block `index` as reconstructed from its outputs (blocks in reverse order). The tensors
 * are only valid during the call: read them (`dataSync()`), do not keep or dispose them.
 */
export type ReconstructHook = (index: number, x1: Tensor, x2: Tensor) => void;

/** Options of {@link ReversibleSequence}. */
export interface ReversibleSequenceOptions {
  /**
   * `true` (default): store no activations, recompute in the backward pass (memory independent of
   * depth). `false`: the same blocks as plain residuals through ordinary autograd (every activation
   * kept by the tape; faster, the choice for short sequences, and the reference in tests).
   */
  reversible?: boolean;
  /** Debug hook, see {@link ReconstructHook}. */
  onReconstruct?: ReconstructHook;
  /**
   * Keys of per-call options whose float32 tensors are **differentiable inputs** of the stack, e.g.
   * `['context']` for the encoder output a decoder's cross-attention reads. In reversible mode their
   * gradients are computed in each block's recompute and summed over the blocks, so gradients flow
   * back through them (to an encoder); in plain mode ordinary autograd does the same. Other option
   * tensors (masks, rotations) get no gradient. Default: none.
   */
  contextKeys?: readonly string[];
}

/** The two seeds of one block in one forward call: f's and g's `seedScope`. */
type BlockSeeds = readonly [number, number];

const WHERE = 'ReversibleSequence.forward';

/** Runs a sub-layer under its seed scope. */
function runSeeded<O>(layer: SubLayer<O>, x: Tensor, seed: number, options: O | undefined): Tensor {
  return seedScope(seed, () => callSubLayer(layer, x, options));
}

/**
 * A stack of {@link ReversibleBlock}s: `forward(x1, x2, options?)` runs them in order and returns the
 * last block's `[y1, y2]`; `options` (e.g. `{ mask }`) are passed to every `f` and `g`.
 *
 * **Reversible mode** (the default): the whole stack is one `customGrad` op whose arguments are
 * `[x1, x2, ...every parameter]`. Its forward pass keeps only the final `[y1, y2]` — plus, per block,
 * a seed and the values of `replayable()` calls — so activation memory does not grow with depth. Its
 * backward walks the blocks in reverse: it recomputes `g(y1)` under a local `gradients` tape (giving
 * `g`'s input and parameter gradients), reconstructs `x2 = y2 − g(y1)`, recomputes `f(x2)` the same way,
 * reconstructs `x1 = y1 − f(x2)`, accumulates the gradients and frees everything of the block before
 * moving on. The result is the ordinary gradient of the forward pass, up to float32 rounding of the
 * reconstruction.
 *
 * **Replay.** Each block draws one seed with `nextSeed()` per forward call (so the whole call replays
 * under an outer `seedScope`), and runs `f` and `g` under their own `seedScope`s derived from it, both
 * in the forward and in the recompute: dropout masks (and anything else drawn with `nextSeed()`) are
 * identical. Each sub-layer call also runs inside a core `ReplayRecord` (recording in the forward,
 * replaying in the recompute), so values a layer produces through `replayable()` — LSH buckets,
 * sampled indices — are reused, not recomputed.
 *
 * **Non-reversible mode** (`reversible: false`, or set {@link ReversibleSequence.reversible}): the
 * same computation with the same seeds, through ordinary autograd.
 *
 * The sequence is a core `ModuleList`: the blocks are its children `0`, `1`, … — a model that
 * registers it as `layers` gets Hugging Face's `layers.{i}.attention.…` names.
 *
 * Errors: `ShapeMismatchError` when the halves differ in shape, or when `f` or `g` of a block returns
 * a different shape (the message names the block and both shapes); `InvalidArgumentError` for an
 * empty stack or an entry that is not a `ReversibleBlock`.
 *
 * @typeParam O - the per-call options passed to `f` and `g`.
 */
export class ReversibleSequence<O = unknown> extends ModuleList<ReversibleBlock<O>> {
  /** Reversible (recompute, memory independent of depth) or plain residual mode. */
  reversible: boolean;
  /** Debug hook called with the reconstructed inputs of each block in the backward pass. */
  onReconstruct: ReconstructHook | undefined;
  /** Option keys whose tensors are differentiable inputs (see {@link ReversibleSequenceOptions.contextKeys}). */
  readonly contextKeys: readonly string[];

  /** Creates the stack; throws `InvalidArgumentError` for an entry that is not a `ReversibleBlock`. */
  constructor(blocks: Iterable<ReversibleBlock<O>>, options: ReversibleSequenceOptions = {}) {
    const list = [...blocks];
    list.forEach((b, i) => {
      if (!(b instanceof ReversibleBlock)) throw new InvalidArgumentError(`ReversibleSequence: entry ${i} is not a ReversibleBlock.`);
    });
    super(list);
    const { reversible = true, onReconstruct, contextKeys = [] } = options;
    if (typeof reversible !== 'boolean')
      throw new InvalidArgumentError(`ReversibleSequence: reversible must be a boolean, got ${JSON.stringify(reversible)}.`);
    if (!Array.isArray(contextKeys) || contextKeys.some((k) => typeof k !== 'string')) {
      throw new InvalidArgumentError(`ReversibleSequence: contextKeys must be a list of option names, got ${JSON.stringify(contextKeys)}.`);
    }
    this.reversible = reversible;
    this.onReconstruct = onReconstruct;
    this.contextKeys = Object.freeze([...contextKeys]);
  }

  /**
   * Runs the stack on the halves `x1`, `x2` (same shape, e.g. from {@link duplicate}) and returns
   * `[y1, y2]`, owned by the caller. Differentiable with respect to `x1`, `x2` and every parameter of
   * every block, in both modes.
   */
  forward(x1: Tensor, x2: Tensor, options?: O): [Tensor, Tensor] {
    checkHalves(WHERE, x1, x2);
    const blocks = [...this];
    if (blocks.length === 0) throw new InvalidArgumentError(`${WHERE}: the stack has no blocks.`);
    const seeds: BlockSeeds[] = blocks.map(() => {
      const s = nextSeed();
      return [deriveSeed(s, 0), deriveSeed(s, 1)] as const;
    });
    return this.reversible ? this.#reversibleForward(blocks, seeds, x1, x2, options) : plainForward(blocks, seeds, x1, x2, options);
  }

  #reversibleForward(blocks: ReversibleBlock<O>[], seeds: BlockSeeds[], x1: Tensor, x2: Tensor, options: O | undefined): [Tensor, Tensor] {
    const params = uniqueTensors(blocks.flatMap((b) => b.gradientParameters()));
    const opts = splitOptions(options);
    // The differentiable option tensors, by their index among the saved option tensors.
    const contextAt = contextIndices(options, this.contextKeys, opts.tensors);
    const records = blocks.map(() => [new ReplayRecord(), new ReplayRecord()] as const);
    const exported: Tensor[] = [];
    const counts: [number, number][] = [];
    const hook = () => this.onReconstruct;

    const op = customGrad((...args: Tensor[]) => {
      const a0 = args[0]!;
      const b0 = args[1]!;
      let a = a0;
      let b = b0;
      try {
        blocks.forEach((block, i) => {
          const [sf, sg] = seeds[i]!;
          const [rf, rg] = records[i]!;
          // Each input half is freed as soon as it has been used (the live set stays the same at
          // any depth); the arguments themselves belong to the caller.
          const y1 = tidy(() => {
            const fx = rf.record(() => runSeeded(block.f, b, sf, options));
            checkSubLayerShape(WHERE, i, 'f', b, fx);
            return add(a, fx);
          });
          if (a !== a0) a.dispose();
          a = y1;
          const y2 = tidy(() => {
            const gy = rg.record(() => runSeeded(block.g, y1, sg, options));
            checkSubLayerShape(WHERE, i, 'g', y1, gy);
            return add(b, gy);
          });
          if (b !== b0) b.dispose();
          b = y2;
        });
      } catch (err) {
        if (a !== a0) a.dispose();
        if (b !== b0) b.dispose();
        throw err;
      }
      for (const [rf, rg] of records) {
        const vf = exportRecord(rf);
        const vg = exportRecord(rg);
        counts.push([vf.length, vg.length]);
        exported.push(...vf, ...vg);
      }
      return {
        value: [a, b],
        save: [a, b, ...opts.tensors, ...exported],
        gradFunc: (dys, saved) =>
          reversibleBackward({
            blocks,
            seeds,
            params,
            counts,
            hook: hook(),
            dys,
            saved,
            nOptionTensors: opts.tensors.length,
            contextAt,
            rebuildOptions: (h) => opts.rebuild(h),
          }),
      };
    });

    try {
      const out = op(x1, x2, ...params, ...contextAt.map((i) => opts.tensors[i]!)) as Tensor[];
      return [out[0]!, out[1]!];
    } finally {
      for (const [rf, rg] of records) {
        rf.dispose();
        rg.dispose();
      }
      for (const t of exported) t.dispose();
    }
  }
}

/** Indices (into the option tensors) of the float32 tensors under `keys`, each tensor once. */
function contextIndices<O>(options: O | undefined, keys: readonly string[], tensors: readonly Tensor[]): number[] {
  if (keys.length === 0 || typeof options !== 'object' || options === null) return [];
  const wanted = new Set<Tensor>();
  for (const key of keys) {
    const value = (options as Record<string, unknown>)[key];
    for (const t of (Array.isArray(value) ? value : [value]) as unknown[]) if (tensors.includes(t as Tensor)) wanted.add(t as Tensor);
  }
  const out: number[] = [];
  tensors.forEach((t, i) => {
    if (wanted.has(t) && t.dtype === 'float32' && !out.some((j) => tensors[j] === t)) out.push(i);
  });
  return out;
}

/** The non-reversible forward: plain residuals through ordinary autograd, with the same seeds. */
function plainForward<O>(
  blocks: ReversibleBlock<O>[],
  seeds: BlockSeeds[],
  x1: Tensor,
  x2: Tensor,
  options: O | undefined,
): [Tensor, Tensor] {
  let a = x1;
  let b = x2;
  try {
    blocks.forEach((block, i) => {
      const [sf, sg] = seeds[i]!;
      const y1 = tidy(() => {
        const fx = runSeeded(block.f, b, sf, options);
        checkSubLayerShape(WHERE, i, 'f', b, fx);
        return add(a, fx);
      });
      if (a !== x1) a.dispose();
      a = y1;
      const y2 = tidy(() => {
        const gy = runSeeded(block.g, y1, sg, options);
        checkSubLayerShape(WHERE, i, 'g', y1, gy);
        return add(b, gy);
      });
      if (b !== x2) b.dispose();
      b = y2;
    });
  } catch (err) {
    if (a !== x1) a.dispose();
    if (b !== x2) b.dispose();
    throw err;
  }
  return [a, b];
}

interface BackwardArgs<O> {
  blocks: ReversibleBlock<O>[];
  seeds: BlockSeeds[];
  params: Tensor[];
  counts: [number, number][];
  hook: ReconstructHook | undefined;
  dys: Tensor[];
  saved: readonly Tensor[];
  nOptionTensors: number;
  /** Indices of the differentiable option tensors among the saved ones. */
  contextAt: readonly number[];
  rebuildOptions: (handles: readonly Tensor[]) => O | undefined;
}

/**
 * The backward pass of the reversible stack: blocks in reverse, reconstructing each block's inputs and
 * recomputing its sub-layers under local tapes. Returns `[dx1, dx2, ...d params]`.
 */
function reversibleBackward<O>(args: BackwardArgs<O>): Tensor[] {
  const { blocks, seeds, params, counts, hook, dys, saved } = args;
  const optionHandles = saved.slice(2, 2 + args.nOptionTensors);
  const options = args.rebuildOptions(optionHandles);
  // The handles the recompute reads the context through: gradients are taken with respect to them.
  const context = args.contextAt.map((i) => optionHandles[i]!);
  const recordValues = saved.slice(2 + args.nOptionTensors);
  const offsets: number[] = [];
  let total = 0;
  for (const [cf, cg] of counts) {
    offsets.push(total);
    total += cf + cg;
  }

  // The current block's outputs and their gradients. Each is freed as soon as it has been used (the
  // saved handles and the incoming gradients too: the engine's own disposal of them is then a no-op),
  // so that the live set stays the same whatever the depth.
  let y1 = saved[0]!;
  let y2 = saved[1]!;
  let dy1 = dys[0]!;
  let dy2 = dys[1]!;
  const acc = new Map<Tensor, Tensor>();
  const accumulate = (p: Tensor, g: Tensor): void => {
    const prev = acc.get(p);
    if (!prev) {
      acc.set(p, g);
      return;
    }
    acc.set(p, add(prev, g));
    prev.dispose();
    g.dispose();
  };

  for (let i = blocks.length - 1; i >= 0; i--) {
    const block = blocks[i]!;
    const [sf, sg] = seeds[i]!;
    const [cf, cg] = counts[i]!;
    const at = offsets[i]!;
    const rf = importRecord(recordValues.slice(at, at + cf));
    const rg = importRecord(recordValues.slice(at + cf, at + cf + cg));
    try {
      // g: recompute under a local tape, reconstruct x2 = y2 − g(y1).
      const gParams = uniqueTensors([...block.g.parameters(), ...context]);
      const G = gradients(() => rg.replay(() => runSeeded(block.g, y1, sg, options)), [y1, ...gParams], dy2);
      const x2 = noGrad(() => sub(y2, G.value));
      G.value.dispose();
      y2.dispose();
      const [dgy1, ...dgParams] = G.grads;
      const dx1 = add(dy1, dgy1!);
      dgy1!.dispose();
      dy1.dispose();
      gParams.forEach((p, j) => accumulate(p, dgParams[j]!));
      // f: recompute under a local tape, reconstruct x1 = y1 − f(x2).
      const fParams = uniqueTensors([...block.f.parameters(), ...context]);
      const F = gradients(() => rf.replay(() => runSeeded(block.f, x2, sf, options)), [x2, ...fParams], dx1);
      const x1 = noGrad(() => sub(y1, F.value));
      F.value.dispose();
      y1.dispose();
      const [dfx2, ...dfParams] = F.grads;
      const dx2 = add(dy2, dfx2!);
      dfx2!.dispose();
      dy2.dispose();
      fParams.forEach((p, j) => accumulate(p, dfParams[j]!));
      y1 = x1;
      y2 = x2;
      dy1 = dx1;
      dy2 = dx2;
    } finally {
      rf.dispose();
      rg.dispose();
    }
    hook?.(i, y1, y2);
  }
  // y1, y2 are now the reconstructed inputs of block 0: not needed any more.
  y1.dispose();
  y2.dispose();
  return [dy1, dy2, ...params.map((p) => acc.get(p) ?? zerosLike(p)), ...context.map((c) => acc.get(c) ?? zerosLike(c))];
}
