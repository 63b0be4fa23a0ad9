/**
 * @reformer/reversible — reversible residual layers for the Reformer in TypeScript: a stack of blocks
 * `y1 = x1 + f(x2)`, `y2 = x2 + g(y1)` whose backward pass reconstructs every block's inputs from its
 * outputs instead of storing them, so activation memory does not grow with depth. Dropout masks are
 * replayed from per-block seeds (`seedScope`) and layer state such as LSH buckets through core's
 * `replayable()` hook. Works with any core `Module` and any backend.
 * @packageDocumentation
 */
export { ReversibleBlock, type SubLayer, type ReversibleBlockNames } from './block.js';
export { ReversibleSequence, type ReversibleSequenceOptions, type ReconstructHook } from './sequence.js';
export { duplicate, mergeHalves, type MergeHalvesOptions } from './halves.js';
