/**
 * `fromPretrained` for Node: a local model folder (a path or a `file:` URL), or anything the
 * browser-safe `fromPretrained` takes (a URL base over `fetch`, files by name).
 * @module
 */
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '@reformer/core';
import type { AnyReformerModel } from './checkpoint.js';
import { loadModelFromDir } from './node.js';
import { fromPretrained as fromPretrainedAnywhere, type FromPretrainedOptions, type PretrainedSource } from './pretrained.js';

/**
 * Loads a Hugging Face Reformer model: from a local folder (`config.json` + `model.safetensors`,
 * sharded safetensors, `pytorch_model.bin` or sharded PyTorch; see `loadModelFromDir`), or, for an
 * `http(s)` URL or files, as the browser-safe `fromPretrained` of `@reformer/model` does (downloads
 * stay in memory; nothing is written to disk).
 *
 * @param source - a folder path, a `file:` URL, an `http(s)` URL base, or files by name.
 * @param options - model options; `onProgress`, `signal`, `fetch` for URL sources.
 * @throws {InvalidArgumentError} if a path is not a folder (for example a hub id such as
 *   `google/reformer-enwik8`: download the folder first); otherwise the errors of
 *   `loadModelFromDir` / the browser-safe `fromPretrained`.
 */
export async function fromPretrained(source: PretrainedSource, options: FromPretrainedOptions = {}): Promise<AnyReformerModel> {
  let dir: string | null = null;
  if (source instanceof URL && source.protocol === 'file:') dir = fileURLToPath(source);
  else if (typeof source === 'string' && !/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) dir = source;
  if (dir === null) return fromPretrainedAnywhere(source, options);
  const isDir = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) {
    throw new InvalidArgumentError(
      `fromPretrained: ${dir} is not a folder. Pass a local model folder (config.json and its weights), or an http(s) URL base; ` +
        'for a Hugging Face hub model, download it first (e.g. `huggingface-cli download google/reformer-enwik8 --local-dir reformer-enwik8`) ' +
        'or pass "https://huggingface.co/<id>/resolve/main/".',
    );
  }
  const { onProgress: _p, signal: _s, fetch: _f, ...modelOptions } = options;
  return loadModelFromDir(dir, modelOptions);
}
