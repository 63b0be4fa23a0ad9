/**
 * PyTorch checkpoints (`pytorch_model.bin`, `*.pt`, `*.pth`) in memory, in both formats `torch.save`
 * writes: the zip format (the default since PyTorch 1.6: `<name>/data.pkl` plus one
 * `<name>/data/<key>` entry per storage) and the legacy format (a magic number, the protocol version,
 * system info, the pickled object, the storage keys, then the raw storages).
 *
 * Browser-safe: no Node imports. Nothing in the file is executed: see `unpickle` and the allow-list in
 * `resolveTorchGlobal`.
 *
 * @module
 */

import { CheckpointFormatError } from '../../errors.js';
import type { HostTensor, SafetensorsFile } from '../safetensors.js';
import { PickleDict, unpickle, type PickleHooks } from './pickle.js';
import { materializeTensor } from './tensors.js';
import { STORAGE_ITEMSIZE, StorageRef, StorageTypeMarker, TensorRef, resolveTorchGlobal } from './torch-globals.js';
import { isInteger } from '../../validate.js';
import { ZIP_MAGIC, readZipEntries } from './zip.js';

/** The two layouts `torch.save` writes. */
export type PyTorchCheckpointFormat = 'zip' | 'legacy';

/** Options of {@link parsePyTorchCheckpoint}. */
export interface PyTorchReadOptions {
  /** Check the CRC-32 of every zip entry (default true): a flipped bit in the file is then an error. */
  verifyChecksums?: boolean;
}

/** The legacy format's magic number, the first pickle of the file. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;
/** PROTO 2, LONG1 of 10 bytes: how a legacy file starts. */
const LEGACY_PREFIX = [0x80, 0x02, 0x8a, 0x0a] as const;

function fail(message: string): never {
  throw new CheckpointFormatError(`pytorch checkpoint: ${message}`);
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return bytes.byteLength >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

function toBytes(buffer: ArrayBuffer | Uint8Array): Uint8Array {
  if (buffer instanceof Uint8Array) return buffer;
  if (buffer instanceof ArrayBuffer || Object.prototype.toString.call(buffer) === '[object ArrayBuffer]') {
    return new Uint8Array(buffer as ArrayBuffer);
  }
  if (ArrayBuffer.isView(buffer)) {
    const v = buffer as ArrayBufferView;
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }
  fail('expected an ArrayBuffer or a Uint8Array holding the file; pass the raw bytes of the file.');
}

/**
 * Which PyTorch format the bytes are in, from their first bytes; null when they are neither (a
 * safetensors file, for example).
 *
 * @param buffer - the file, or at least its first 4 bytes.
 */
export function pytorchCheckpointFormat(buffer: ArrayBuffer | Uint8Array): PyTorchCheckpointFormat | null {
  const bytes = toBytes(buffer);
  if (startsWith(bytes, ZIP_MAGIC)) return 'zip';
  if (startsWith(bytes, LEGACY_PREFIX)) return 'legacy';
  return null;
}

/** The persistent-id loader shared by both formats: `('storage', type, key, location, numel[, view])`. */
function storageLoader(storages: Map<string, StorageRef>, load: (ref: StorageRef) => void): PickleHooks['persistentLoad'] {
  return (pid) => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
      fail(
        `a persistent id is ${Array.isArray(pid) ? `a tuple starting ${JSON.stringify(String(pid[0]))}` : 'not a tuple'}, expected ('storage', ...); the file is corrupt.`,
      );
    }
    const [, type, key, , numel, view] = pid as unknown[];
    if (!(type instanceof StorageTypeMarker)) fail('a storage has no storage type; the file is corrupt.');
    if (typeof key !== 'string' && typeof key !== 'number') fail('a storage key is not a string; the file is corrupt.');
    if (!isInteger(numel, 0)) fail(`storage ${JSON.stringify(key)} has an invalid size; the file is corrupt.`);
    if (view !== undefined && view !== null) {
      fail(
        `storage ${JSON.stringify(key)} is a view of another storage, which only PyTorch before 1.0 wrote; load and re-save it with a current torch.save.`,
      );
    }
    const name = String(key);
    let ref = storages.get(name);
    if (ref === undefined) {
      ref = new StorageRef(name, type.dtype, numel);
      load(ref);
      storages.set(name, ref);
    } else if (ref.dtype !== type.dtype || ref.numel !== numel) {
      fail(`storage ${JSON.stringify(name)} is described twice with different types or sizes; the file is corrupt.`);
    }
    return ref;
  };
}

/** The state dict's tensors from the unpickled top-level object. */
function collect(root: unknown, little: boolean): Map<string, HostTensor> {
  if (!(root instanceof PickleDict)) {
    fail(
      `the file holds ${root instanceof TensorRef ? 'a single tensor' : Array.isArray(root) ? 'a list or tuple' : `a ${typeof root}`}, ` +
        'not a state dict (a dict of name → tensor). Save model.state_dict().',
    );
  }
  const out = new Map<string, HostTensor>();
  for (const [key, value] of root.entries) {
    if (typeof key !== 'string') fail(`a state dict key is ${String(key)}, not a string; save model.state_dict().`);
    if (!(value instanceof TensorRef)) {
      const what = value instanceof PickleDict ? 'a dict' : value === null ? 'None' : Array.isArray(value) ? 'a list' : `a ${typeof value}`;
      fail(
        `entry ${JSON.stringify(key)} is ${what}, not a tensor; this reader loads state dicts (name → tensor). If the ` +
          'file is a training checkpoint, save its model state dict alone: torch.save(ckpt["model"], path).',
      );
    }
    out.set(key, materializeTensor(key, value, little));
  }
  return out;
}

function parseZip(bytes: Uint8Array, options: PyTorchReadOptions, checksum?: (data: Uint8Array) => number): Map<string, HostTensor> {
  const entries = readZipEntries(bytes, options.verifyChecksums ?? true, checksum);
  const pkls = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1) {
    fail(
      `the zip archive has ${pkls.length === 0 ? 'no <name>/data.pkl entry' : `${pkls.length} <name>/data.pkl entries`} ` +
        '(expected one); it is not a checkpoint written by torch.save.',
    );
  }
  const prefix = pkls[0]!.slice(0, -'data.pkl'.length);
  const order = entries.get(`${prefix}byteorder`);
  let little = true;
  if (order !== undefined) {
    const text = new TextDecoder().decode(order);
    if (text !== 'little' && text !== 'big')
      fail(`the byteorder record is ${JSON.stringify(text.slice(0, 20))}, expected "little" or "big"; the file is corrupt.`);
    little = text === 'little';
  }
  const storages = new Map<string, StorageRef>();
  const hooks: PickleHooks = {
    resolveGlobal: resolveTorchGlobal,
    persistentLoad: storageLoader(storages, (ref) => {
      const data = entries.get(`${prefix}data/${ref.key}`);
      if (data === undefined) fail(`storage entry ${prefix}data/${ref.key} is missing from the archive; the file is truncated or corrupt.`);
      const need = ref.numel * STORAGE_ITEMSIZE[ref.dtype];
      if (data.byteLength < need) {
        fail(
          `storage entry ${prefix}data/${ref.key} holds ${data.byteLength} bytes, but its ${ref.numel} elements need ${need}; the file is corrupt.`,
        );
      }
      ref.bytes = data;
    }),
  };
  const pkl = entries.get(pkls[0]!)!;
  const { value, end } = unpickle(pkl, 0, hooks);
  if (end !== pkl.byteLength) fail(`${pkls[0]} has ${pkl.byteLength - end} bytes after its pickle ends; the file is corrupt.`);
  return collect(value, little);
}

function parseLegacy(bytes: Uint8Array): Map<string, HostTensor> {
  const none: PickleHooks = {
    resolveGlobal: resolveTorchGlobal,
    persistentLoad: () => fail('a persistent id outside the object pickle; the file is corrupt.'),
  };
  const magic = unpickle(bytes, 0, none);
  if (magic.value !== LEGACY_MAGIC) fail('the legacy magic number is wrong; the file is corrupt or not a PyTorch checkpoint.');
  const protocol = unpickle(bytes, magic.end, none);
  if (protocol.value !== LEGACY_PROTOCOL) {
    fail(
      `legacy protocol version ${String(protocol.value)}, expected ${LEGACY_PROTOCOL}; load and re-save the file with a current torch.save.`,
    );
  }
  const sysInfo = unpickle(bytes, protocol.end, none);
  if (!(sysInfo.value instanceof PickleDict)) fail('the legacy system info is not a dict; the file is corrupt.');
  if (sysInfo.value.entries.get('little_endian') === false) {
    fail('the file was written on a big-endian machine in the legacy format; re-save it with a current torch.save (zip format).');
  }
  const storages = new Map<string, StorageRef>();
  const object = unpickle(bytes, sysInfo.end, {
    resolveGlobal: resolveTorchGlobal,
    persistentLoad: storageLoader(storages, () => undefined),
  });
  const keys = unpickle(bytes, object.end, none);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string'))
    fail('the legacy storage key list is not a list of strings; the file is corrupt.');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keys.end;
  for (const key of keys.value as string[]) {
    const ref = storages.get(key);
    if (ref === undefined) fail(`the legacy storage list names ${JSON.stringify(key)}, which no tensor uses; the file is corrupt.`);
    if (pos + 8 > bytes.byteLength)
      fail(`storage ${JSON.stringify(key)} is missing: the file ends at byte ${bytes.byteLength}; it is truncated.`);
    const numel = view.getUint32(pos, true) + view.getUint32(pos + 4, true) * 4294967296;
    if (numel !== ref.numel)
      fail(`storage ${JSON.stringify(key)} has ${numel} elements on disk but ${ref.numel} in the pickle; the file is corrupt.`);
    const size = numel * STORAGE_ITEMSIZE[ref.dtype];
    if (pos + 8 + size > bytes.byteLength) {
      fail(
        `storage ${JSON.stringify(key)} needs ${size} bytes at byte ${pos + 8}, but the file ends at ${bytes.byteLength}; it is truncated.`,
      );
    }
    ref.bytes = bytes.subarray(pos + 8, pos + 8 + size);
    pos += 8 + size;
  }
  return collect(object.value, true);
}

/**
 * Parses a PyTorch checkpoint held in memory — a state dict saved with `torch.save`, in the zip or
 * the legacy format — without executing anything from it.
 *
 * The pickle inside is read by a restricted machine that knows only what a state dict needs: dicts
 * and ordered dicts, tensors rebuilt from storages (`torch._utils._rebuild_tensor_v2` and friends),
 * parameters and the storage classes. Any other global — `os.system`, `builtins.eval`, a custom class
 * — stops the read with a {@link PickleSecurityError} naming it; nothing is called.
 *
 * Tensors come back like `parseSafetensors`'s: float16, bfloat16, float32 and float64 as `'float32'`
 * (16-bit values exactly, float64 rounded), integer and bool types as `'int32'`. Views are honoured
 * (storage offset and strides; shared storages give separate copies), and every tensor is a fresh
 * contiguous array that does not alias `buffer`.
 *
 * @param buffer - the whole file.
 * @param options - see {@link PyTorchReadOptions}.
 * @returns the tensors by name, in the state dict's order, and empty metadata: the same shape as
 *   `parseSafetensors`, so loaders treat both formats alike.
 * @throws {PickleSecurityError} if the pickle names a global outside the allow-list.
 * @throws {CheckpointFormatError} if the bytes are not a PyTorch checkpoint, are truncated or corrupt
 *   (a failed CRC, a storage outside the file, a malformed pickle), or hold something other than a
 *   state dict of tensors.
 */
export function parsePyTorchCheckpoint(buffer: ArrayBuffer | Uint8Array, options: PyTorchReadOptions = {}): SafetensorsFile {
  return parseWithChecksum(buffer, options);
}

/**
 * {@link parsePyTorchCheckpoint} with a CRC-32 function of the platform's (Node's zlib.crc32, many times
 * faster than the portable one). Not exported from the package. @internal
 */
export function parseWithChecksum(
  buffer: ArrayBuffer | Uint8Array,
  options: PyTorchReadOptions,
  checksum?: (data: Uint8Array) => number,
): SafetensorsFile {
  const bytes = toBytes(buffer);
  const format = pytorchCheckpointFormat(bytes);
  if (format === null) {
    fail(
      `the file starts with ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ') || 'nothing'}, ` +
        'neither a zip archive (50 4b 03 04) nor a legacy PyTorch pickle (80 02 8a 0a); it is not a checkpoint written by ' +
        'torch.save (a safetensors file is read with parseSafetensors).',
    );
  }
  const tensors = format === 'zip' ? parseZip(bytes, options, checksum) : parseLegacy(bytes);
  return { tensors, metadata: {} };
}
