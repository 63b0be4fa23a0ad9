/**
 * Node-only helpers of `@reformer/core` (they import `node:fs`): atomic file writes and safetensors
 * files on disk. Import from `@reformer/core/node`; browser bundles should use the in-memory
 * `parseSafetensors` / `serializeSafetensors` instead.
 *
 * @module
 */

export { writeFileAtomic } from './atomic.js';
export { readSafetensorsFile, writeSafetensorsFile } from './safetensors.js';
export { readPyTorchFile } from './pytorch.js';
export type { HostTensor, SafetensorsFile } from '../io/index.js';
