import { formatValue } from '../format.js';
import { InvalidArgumentError } from '../errors.js';
import { gather } from '../ops/layout.js';
import { requireDType } from '../ops/util.js';
import type { Tensor, Variable } from '../tensor.js';
import { checkInteger } from '../validate.js';
import { checkStd, initNormal, parameterSeeds } from './init.js';
import { Module } from './module.js';

/** Options of {@link Embedding}. */
export interface EmbeddingOptions {
  /** Number of rows (vocabulary size). */
  numEmbeddings: number;
  /** Size of each row. */
  dim: number;
  /** Initialisation N(0, std²): default `{ std: 1 }` (PyTorch); Hugging Face uses `{ std: 0.02 }`. */
  init?: { readonly std: number };
  /** Seed of the initial weights (default: `nextSeed()`). */
  seed?: number;
}

/**
 * A lookup table: `weight` `[numEmbeddings, dim]`; `forward(ids)` returns the rows `ids` selects.
 * Out-of-range ids make the backend's gather kernel throw an `InvalidArgumentError`.
 */
export class Embedding extends Module {
  /** Number of rows. */
  readonly numEmbeddings: number;
  /** Size of each row. */
  readonly dim: number;
  /** `[numEmbeddings, dim]`. */
  readonly weight: Variable;

  /** Creates the table on the current backend. */
  constructor(options: EmbeddingOptions) {
    super();
    const { numEmbeddings, dim, init = { std: 1 }, seed } = options;
    checkInteger('Embedding', 'numEmbeddings', numEmbeddings, 1);
    checkInteger('Embedding', 'dim', dim, 1);
    if (typeof init !== 'object' || init === null)
      throw new InvalidArgumentError(`Embedding: init must be { std }, got ${formatValue(init)}.`);
    const std = checkStd('Embedding', init);
    this.numEmbeddings = numEmbeddings;
    this.dim = dim;
    const [wSeed] = parameterSeeds('Embedding', seed, 1) as [number];
    this.weight = this.addParameter('weight', initNormal([numEmbeddings, dim], { seed: wSeed, std }));
  }

  /** int32 `ids` of any shape `[...]` → `[..., dim]`. */
  forward(ids: Tensor): Tensor {
    requireDType('Embedding.forward', 'int32', ids);
    return gather(this.weight, ids, 0);
  }
}
