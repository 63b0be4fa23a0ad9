/**
 * Safetensors I/O in memory, browser-safe (no Node imports). For reading and writing files on disk
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
export type { HostTensor, SafetensorsFile, SafetensorsDType } from './safetensors.js';
