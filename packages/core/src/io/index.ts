/**
 * Safetensors and PyTorch checkpoint I/O in memory, browser-safe (no Node imports). For reading and writing files on disk
 * use `readSafetensorsFile` / `writeSafetensorsFile` from `@reformer/core/node`.
 *
 * @module
 */

export {
  parseSafetensors,
  serializeSafetensors,
  SAFETENSORS_READ_DTYPES,
  SAFETENSORS_MAX_HEADER_BYTES,
} from './safetensors.js';
export { SAFETENSORS_MAX_HEADER_DEPTH } from './header-json.js';
export type { HostTensor, ParseSafetensorsOptions, SafetensorsFile, SafetensorsDType } from './safetensors.js';
export { parsePyTorchCheckpoint, pytorchCheckpointFormat } from './pytorch/index.js';
export type { PyTorchCheckpointFormat, PyTorchReadOptions } from './pytorch/index.js';
