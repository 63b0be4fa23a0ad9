/**
 * `fromPretrained` for browsers (and any runtime with `fetch`): a model from a URL base (for example
 * `https://huggingface.co/google/reformer-enwik8/resolve/main/`) or from files the user picked
 * (`File`s, `Blob`s or bytes by name). Weights in every layout Hugging Face publishes: safetensors,
 * PyTorch's `pytorch_model.bin` (read by core's restricted reader, which executes nothing), and their
 * sharded forms. Nothing is written anywhere: downloads stay in memory.
 * @module
 */
import {
  CheckpointFormatError,
  InvalidArgumentError,
  PickleSecurityError,
  SafetensorsError,
  parsePyTorchCheckpoint,
  parseSafetensors,
  type HostTensor,
  type SafetensorsFile,
} from '@reformer/core';
import { CheckpointError, loadModel, type AnyReformerModel } from './checkpoint.js';
import type { ModelOptions } from './model.js';
import {
  MissingWeightsError,
  ShardIndexError,
  WEIGHTS_FILE_NAMES,
  checkShard,
  missingWeightsMessage,
  parseShardIndex,
} from './weights-names.js';

/** Download progress of one file. */
export interface PretrainedProgress {
  /** The file's name (`config.json`, `model.safetensors`, a shard...). */
  file: string;
  /** Bytes received so far. */
  loaded: number;
  /** The file's size from `Content-Length`, or null when the server does not say. */
  total: number | null;
}

/** Options of {@link fromPretrained}. */
export interface FromPretrainedOptions extends ModelOptions {
  /** Called as each file downloads (URL sources only). */
  onProgress?: (progress: PretrainedProgress) => void;
  /** Cancels the downloads. */
  signal?: AbortSignal;
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
}

/** A file by name: bytes, or a `Blob`/`File`. */
export type PretrainedFileData = ArrayBuffer | Uint8Array | Blob;

/**
 * Where {@link fromPretrained} reads a model from: a URL base (a `URL`, or a string URL, relative to
 * the page in browsers), or the folder's files: `File`s (an `<input type="file" multiple>`'s
 * `files`) or a record of name → bytes/Blob.
 */
export type PretrainedSource = string | URL | Iterable<File> | ArrayLike<File> | Record<string, PretrainedFileData>;

/** Bytes of a weights file → tensors, naming the file in errors (format by name: `*.safetensors` or PyTorch). */
function parseWeights(name: string, bytes: Uint8Array): SafetensorsFile {
  try {
    return name.endsWith('.safetensors') ? parseSafetensors(bytes) : parsePyTorchCheckpoint(bytes);
  } catch (e) {
    if (e instanceof SafetensorsError || e instanceof CheckpointFormatError) {
      const Wrap =
        e instanceof PickleSecurityError ? PickleSecurityError : e instanceof SafetensorsError ? SafetensorsError : CheckpointFormatError;
      const wrapped = new Wrap(`${name}: ${e.message}`);
      wrapped.cause = e;
      throw wrapped;
    }
    throw e;
  }
}

/** Reads the model files through `get(name)` (null when the file does not exist). */
async function loadFrom(
  where: string,
  get: (name: string) => Promise<Uint8Array | null>,
  list: readonly string[] | null,
  options: ModelOptions,
): Promise<AnyReformerModel> {
  const config = await get('config.json');
  if (config === null) throw new CheckpointError(`${where}: no config.json; a model folder holds config.json and its weights.`);
  for (const name of WEIGHTS_FILE_NAMES) {
    if (list !== null && !list.includes(name)) continue;
    const bytes = await get(name);
    if (bytes === null) continue;
    if (!name.endsWith('.index.json')) return loadModel({ config, weights: parseWeights(name, bytes) }, options);
    const shards = parseShardIndex(new TextDecoder().decode(bytes), name);
    const tensors = new Map<string, HostTensor>();
    for (const [file, names] of shards) {
      const shard = await get(file);
      if (shard === null)
        throw new ShardIndexError(`${where}: ${name} names shard ${file}, which is missing; all ${shards.size} shards are needed.`);
      const parsed = parseWeights(file, shard);
      checkShard(file, name, names, parsed.tensors);
      for (const [k, t] of parsed.tensors) tensors.set(k, t);
    }
    return loadModel({ config, weights: { tensors, metadata: {} } }, options);
  }
  throw new MissingWeightsError(missingWeightsMessage(where, list));
}

/** Downloads one file with progress; null on HTTP 404. */
async function download(url: URL, name: string, options: FromPretrainedOptions): Promise<Uint8Array | null> {
  const doFetch = options.fetch ?? globalThis.fetch;
  const response = await doFetch(url, options.signal ? { signal: options.signal } : {});
  if (response.status === 404) return null;
  if (!response.ok)
    throw new CheckpointError(
      `${url.href}: HTTP ${response.status} ${response.statusText}; check the URL and that the server allows the download.`,
    );
  const header = response.headers.get('content-length');
  const total = header !== null && /^\d+$/.test(header) ? Number(header) : null;
  const report = (loaded: number): void => options.onProgress?.({ file: name, loaded, total });
  if (response.body === null) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    report(bytes.byteLength);
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  report(0);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    report(loaded);
  }
  if (total !== null && loaded !== total) {
    throw new CheckpointError(`${url.href}: the download stopped at ${loaded} of ${total} bytes; try again.`);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

function asUrlBase(source: string | URL): URL {
  let url: URL;
  try {
    const page = (globalThis as { location?: { href?: string } }).location?.href;
    url = page !== undefined ? new URL(source, page) : new URL(source);
  } catch {
    throw new InvalidArgumentError(
      `fromPretrained: ${JSON.stringify(String(source))} is not a URL. Pass the base URL of a model folder, e.g. ` +
        '"https://huggingface.co/google/reformer-enwik8/resolve/main/" (in Node, a local folder path works with fromPretrained from @reformer/model/node).',
    );
  }
  if (!url.pathname.endsWith('/')) url = new URL(`${url.pathname}/${url.search}`, url);
  return url;
}

function isFileLike(v: unknown): v is File {
  return typeof v === 'object' && v !== null && typeof (v as File).name === 'string' && typeof (v as File).arrayBuffer === 'function';
}

async function toBytes(data: PretrainedFileData): Promise<Uint8Array> {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(await data.arrayBuffer());
}

/**
 * Loads a Hugging Face Reformer model folder — `config.json` and its weights (`model.safetensors`,
 * sharded safetensors, `pytorch_model.bin` or sharded PyTorch; safetensors preferred) — from a URL
 * base or from files, builds the model and loads its weights. Browser-safe; in Node,
 * `fromPretrained` from `@reformer/model/node` also takes a local folder.
 *
 * @param source - a URL base (`new URL('https://huggingface.co/google/reformer-enwik8/resolve/main/')`),
 *   `File`s (`input.files`), or a record of file name → bytes / Blob.
 * @param options - model options, plus `onProgress`, `signal` and `fetch` for URL sources.
 * @returns the model, of the architecture its config names.
 * @throws {MissingWeightsError} if none of the weight files is there (the message lists what was
 *   looked for and what was found); {@link ShardIndexError} for a bad index or a missing shard;
 *   core's `SafetensorsError`, `CheckpointFormatError` or `PickleSecurityError` naming the file;
 *   `CheckpointError` for a failed download or a missing config.json; `StateDictError` /
 *   `ReformerConfigError` from `loadModel`.
 */
export async function fromPretrained(source: PretrainedSource, options: FromPretrainedOptions = {}): Promise<AnyReformerModel> {
  const { onProgress: _p, signal: _s, fetch: _f, ...modelOptions } = options;
  if (typeof source === 'string' || source instanceof URL) {
    const base = asUrlBase(source);
    return loadFrom(base.href, (name) => download(new URL(name, base), name, options), null, modelOptions);
  }
  const files = new Map<string, PretrainedFileData>();
  const iterable =
    Symbol.iterator in (source as object)
      ? (source as Iterable<unknown>)
      : typeof (source as ArrayLike<unknown>).length === 'number'
        ? Array.from(source as ArrayLike<unknown>)
        : null;
  if (iterable !== null) {
    for (const f of iterable) {
      if (!isFileLike(f))
        throw new InvalidArgumentError(
          'fromPretrained: expected File objects (with a name), e.g. the files of an <input type="file" multiple>.',
        );
      files.set(f.name, f);
    }
  } else {
    for (const [name, data] of Object.entries(source as Record<string, PretrainedFileData>)) files.set(name, data);
  }
  return loadFrom(
    'the given files',
    async (name) => {
      const data = files.get(name);
      return data === undefined ? null : toBytes(data);
    },
    [...files.keys()],
    modelOptions,
  );
}
