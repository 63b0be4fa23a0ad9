import {
  ShapeMismatchError,
  add,
  concat,
  customGrad,
  deriveSeed,
  gradients,
  nextSeed,
  seedScope,
  slice,
  tidy,
  type Tensor,
  checkInteger,
} from '@reformer/core';
import { chunkBounds } from './util.js';

/** Options of {@link chunked}. */
export interface ChunkedOptions {
  /** Number of positions per slice along `axis` (an integer ≥ 1; the last slice may be shorter). */
  chunkSize: number;
  /**
   * The axis to slice (negative counts from the end). Default 1: the sequence axis of a
   * `[batch, length, dModel]` hidden state.
   */
  axis?: number;
  /**
   * Every tensor `fn` uses, other than its argument, that needs a gradient — typically the
   * parameters of the layer `fn` calls (`module.parameters()`). The chunked backward differentiates
   * `fn` with respect to these; a parameter `fn` uses but that is not listed here gets no gradient.
   */
  params?: readonly Tensor[];
}

function sameShapeBut(a: readonly number[], b: readonly number[], axis: number): boolean {
  return a.length === b.length && a.every((d, i) => i === axis || d === b[i]);
}

/**
 * Applies a position-wise function slice by slice along `axis`, in the forward **and** in the
 * backward pass, so that `fn`'s intermediate activations exist for one slice at a time only.
 *
 * The result equals `fn(x)` (and so do the gradients with respect to `x` and to `params`) whenever
 * `fn` is position-wise along `axis`, i.e. output position `i` depends on input position `i` only
 * (a feed-forward block, a LayerNorm over the feature axis, a vocabulary projection, ...). Lengths
 * that are not a multiple of `chunkSize` are fine: the last slice is shorter.
 *
 * How it works: a core `customGrad` whose arguments are `[x, ...params]`. The forward runs `fn` on
 * each slice without recording, keeps only the slice outputs (concatenated into the result) and
 * frees everything else. The backward recomputes each slice under a local `gradients` tape, writes
 * that slice of `dx`, accumulates the parameter gradients, and frees the slice's tape before the
 * next one.
 *
 * Randomness (dropout inside `fn`) is replayed exactly: one seed is drawn with core `nextSeed()` per
 * call, slice `i` runs under `seedScope(deriveSeed(seed, i))` in the forward, and the backward
 * recomputes it under the same scope, so the masks of the recompute are those of the forward. (So a
 * caller that replays its own forward inside a `seedScope`, like a reversible layer, replays the
 * chunked call too.) The masks differ from those of an unchunked `fn(x)` call.
 *
 * With `chunkSize` ≥ the length of `axis` this is just `fn(x)` (ordinary autograd).
 *
 * @param fn - The position-wise function. Its output must have the slice's length along `axis`
 *   (other axes may change size or be added after it, e.g. `[B, c, H] → [B, c, F]`, or int32 ids
 *   `[B, c]` → embeddings `[B, c, D]`).
 * @param x - The input; sliced along `axis`.
 * @param options - `chunkSize`, `axis` (default 1) and `params`.
 * @returns `fn(x)`, computed slice by slice.
 * @throws InvalidArgumentError when `chunkSize` is not an integer ≥ 1 or `axis` is out of range.
 * @throws ShapeMismatchError when `fn` changes the length along `axis` or gives slices of inconsistent shapes.
 *
 * @example
 * ```ts
 * const y = chunked((s) => layer.forward(s), x, { chunkSize: 128, params: layer.parameters() });
 * ```
 */
export function chunked(fn: (slice: Tensor) => Tensor, x: Tensor, options: ChunkedOptions): Tensor {
  const { chunkSize, axis = 1, params = [] } = options;
  checkInteger('chunked', 'chunkSize', chunkSize, 1);
  checkInteger('chunked', 'axis', axis, -x.rank, x.rank - 1);
  const ax = axis < 0 ? axis + x.rank : axis;
  const length = x.shape[ax]!;
  if (chunkSize >= length) return fn(x);

  const bounds = chunkBounds(length, chunkSize);
  const sliceOf = (t: Tensor, [start, end]: [number, number]): Tensor =>
    slice(
      t,
      t.shape.map((_, i) => (i === ax ? start : 0)),
      t.shape.map((d, i) => (i === ax ? end - start : d)),
    );
  const baseSeed = nextSeed();
  const run = (piece: Tensor, i: number): Tensor => seedScope(deriveSeed(baseSeed, i), () => fn(piece));
  const paramList = [...new Set(params)];

  const op = customGrad((...args: Tensor[]) => {
    const input = args[0]!;
    const pieces: Tensor[] = [];
    try {
      bounds.forEach((b, i) => {
        pieces.push(
          tidy(() => {
            const y = run(sliceOf(input, b), i);
            if (y.rank <= ax || y.shape[ax] !== b[1] - b[0]) {
              const inShape = input.shape.map((d, j) => (j === ax ? b[1] - b[0] : d));
              throw new ShapeMismatchError(
                `chunked: fn must be position-wise along axis ${ax}: a slice of shape [${inShape.join(', ')}] gave an output of shape ` +
                  `[${y.shape.join(', ')}]; the output needs the slice's length along axis ${ax}.`,
              );
            }
            const first = pieces[0];
            if (first && !sameShapeBut(first.shape, y.shape, ax)) {
              throw new ShapeMismatchError(
                `chunked: fn gave slices of inconsistent shapes [${first.shape.join(', ')}] and [${y.shape.join(', ')}].`,
              );
            }
            return y;
          }),
        );
      });
      const value = concat(pieces, ax);
      return {
        value,
        save: [input],
        gradFunc: ([dy], [xs]) => chunkedBackward(xs!, dy!),
      };
    } finally {
      for (const p of pieces) p.dispose();
    }
  });

  const chunkedBackward = (input: Tensor, dy: Tensor): (Tensor | null)[] => {
    const wantX = input.dtype === 'float32';
    const wrtParams = paramList.filter((p) => p.dtype === 'float32');
    const dxs: Tensor[] = [];
    let dParams: Tensor[] = [];
    let ok = false;
    try {
      bounds.forEach((b, i) => {
        const grads = tidy(() => {
          const xi = sliceOf(input, b);
          const dyi = sliceOf(dy, b);
          const { value, grads: g } = gradients(() => run(xi, i), wantX ? [xi, ...wrtParams] : wrtParams, dyi);
          value.dispose();
          return g;
        });
        if (wantX) dxs.push(grads.shift()!);
        if (i === 0) {
          dParams = grads;
        } else {
          const prev = dParams;
          dParams = prev.map((g, j) => {
            const next = add(g, grads[j]!);
            g.dispose();
            grads[j]!.dispose();
            return next;
          });
        }
      });
      const dx = wantX ? concat(dxs, ax) : null;
      const byParam = new Map<Tensor, Tensor>(wrtParams.map((p, j) => [p, dParams[j]!]));
      ok = true;
      return [dx, ...paramList.map((p) => byParam.get(p) ?? null)];
    } finally {
      for (const t of dxs) t.dispose();
      if (!ok) for (const t of dParams) t.dispose();
    }
  };

  return op(x, ...paramList) as Tensor;
}
