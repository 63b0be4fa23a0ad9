/**
 * @reformer/lsh — LSH, local and full attention for the Reformer in TypeScript: hashing, bucket sort,
 * chunked attention (functional cores, forward and backward, on any `@reformer/core` backend) and the
 * attention layers built on them.
 * @packageDocumentation
 */
export { hashVectors, chooseNumBuckets, type NumBuckets, type HashVectorsOptions, type HashVectorsResult } from './hash.js';
export { lshAttention, lshNormalisedKeys, type LSHAttentionOptions, type LSHAttentionResult } from './lsh-attention.js';
export { localAttention, type LocalAttentionOptions } from './local-attention.js';
export { fullAttention, type FullAttentionOptions } from './full-attention.js';
export { LSH_GROUP_BYTES, checkLSHAttentionSizes, lshHeadGroup, type LSHAttentionSizes } from './sizes.js';
export * from './layers/index.js';
