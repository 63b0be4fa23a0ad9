/**
 * fromPretrained over a URL base (a local HTTP server in this process), over files by name, and, in
 * Node, over a local folder; every form must load the same weights as loadModelFromDir on the
 * safetensors original.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, PickleSecurityError } from '@reformer/core';
import {
  MissingWeightsError,
  ShardIndexError,
  fromPretrained as fromPretrainedBrowser,
  type AnyReformerModel,
  type PretrainedProgress,
} from '../src/index.js';
import { fromPretrained, loadModelFromDir } from '../src/node.js';
import { fixtureDir } from './helpers.js';

const PT = (sub: string): string => fileURLToPath(new URL(`./fixtures/pytorch/${sub}/`, import.meta.url));
const ORIGINAL = fileURLToPath(fixtureDir('tiny-lsh-causal'));
const MALICIOUS = fileURLToPath(new URL('../../core/test/fixtures/pytorch/malicious.pt', import.meta.url));

const read = (path: string): Uint8Array<ArrayBuffer> => new Uint8Array(readFileSync(path));

/** Folders served at /<name>/…; every request is logged. */
const served: Record<string, Record<string, Uint8Array<ArrayBuffer>>> = {
  zip: filesOf(PT('zip')),
  sharded: filesOf(PT('sharded')),
  original: { 'config.json': read(join(ORIGINAL, 'config.json')), 'model.safetensors': read(join(ORIGINAL, 'model.safetensors')) },
  empty: { 'config.json': read(join(ORIGINAL, 'config.json')) },
  malicious: { 'config.json': read(join(ORIGINAL, 'config.json')), 'pytorch_model.bin': read(MALICIOUS) },
};
const requests: string[] = [];
let server: Server;
let base = '';

function filesOf(dir: string): Record<string, Uint8Array<ArrayBuffer>> {
  return Object.fromEntries(readdirSync(dir).map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]));
}

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const [, folder, file] = (req.url ?? '').split('/');
    const data = served[folder ?? '']?.[file ?? ''];
    if (data === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': String(data.byteLength) });
    // Two writes, so that progress has a step in between.
    const half = data.byteLength >> 1;
    res.write(data.subarray(0, half));
    setTimeout(() => res.end(data.subarray(half)), 5);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function stateBits(model: AnyReformerModel): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [name, t] of model.stateDict()) out.set(name, Array.from(new Uint32Array(((await t.data()) as Float32Array).buffer)));
  model.dispose();
  return out;
}

async function failure(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error,
  );
}

describe('fromPretrained', () => {
  let reference: Map<string, number[]>;
  beforeAll(async () => {
    reference = await stateBits(await loadModelFromDir(ORIGINAL));
  });

  it('a URL base serving pytorch_model.bin: looks for safetensors first, reports progress, loads the same weights', async () => {
    requests.length = 0;
    const progress: PretrainedProgress[] = [];
    const model = await fromPretrainedBrowser(new URL(`${base}/zip`), { onProgress: (p) => progress.push({ ...p }) });
    expect(requests).toEqual(['/zip/config.json', '/zip/model.safetensors', '/zip/model.safetensors.index.json', '/zip/pytorch_model.bin']);
    const size = served.zip!['pytorch_model.bin']!.byteLength;
    const bin = progress.filter((p) => p.file === 'pytorch_model.bin');
    expect(bin[0]).toEqual({ file: 'pytorch_model.bin', loaded: 0, total: size });
    expect(bin.at(-1)).toEqual({ file: 'pytorch_model.bin', loaded: size, total: size });
    expect(bin.length).toBeGreaterThanOrEqual(3);
    expect(bin.every((p, i) => i === 0 || p.loaded >= bin[i - 1]!.loaded)).toBe(true);
    expect(await stateBits(model)).toEqual(reference);
  });

  it('a URL base with a sharded legacy checkpoint, and one with model.safetensors', async () => {
    expect(await stateBits(await fromPretrainedBrowser(`${base}/sharded/`))).toEqual(reference);
    requests.length = 0;
    expect(await stateBits(await fromPretrainedBrowser(`${base}/original`))).toEqual(reference);
    expect(requests).toEqual(['/original/config.json', '/original/model.safetensors']);
  });

  it('a URL base without weights, or with a malicious pickle: named errors', async () => {
    const missing = await failure(fromPretrainedBrowser(`${base}/empty`));
    expect(missing).toBeInstanceOf(MissingWeightsError);
    expect(missing.message).toMatch(
      /Looked for model\.safetensors, .*pytorch_model\.bin\.index\.json; the server had none of them \(HTTP 404\)/,
    );
    const evil = await failure(fromPretrainedBrowser(`${base}/malicious`));
    expect(evil).toBeInstanceOf(PickleSecurityError);
    expect(evil.message).toMatch(/^pytorch_model\.bin: .*posix\.system/);
  });

  it('files by name (bytes, Blobs, Files), and a missing shard among them', async () => {
    const files = served.sharded!;
    expect(
      await stateBits(
        await fromPretrainedBrowser({
          ...files,
          'pytorch_model-00002-of-00002.bin': new Blob([files['pytorch_model-00002-of-00002.bin']!]),
        }),
      ),
    ).toEqual(reference);
    const asFiles = Object.entries(served.zip!).map(([name, data]) => new File([data], name));
    expect(await stateBits(await fromPretrainedBrowser(asFiles))).toEqual(reference);
    const { ['pytorch_model-00001-of-00002.bin']: _dropped, ...partial } = files;
    await expect(fromPretrainedBrowser(partial)).rejects.toThrow(ShardIndexError);
    const none = await failure(fromPretrainedBrowser({ 'config.json': files['config.json']!, 'README.md': new Uint8Array(1) }));
    expect(none).toBeInstanceOf(MissingWeightsError);
    expect(none.message).toContain('found README.md, config.json');
  });

  it('Node: a local folder or file: URL; a hub id that is not a folder is a named error saying what to do', async () => {
    expect(await stateBits(await fromPretrained(PT('sharded')))).toEqual(reference);
    expect(await stateBits(await fromPretrained(new URL(`./fixtures/pytorch/zip/`, import.meta.url)))).toEqual(reference);
    expect(await stateBits(await fromPretrained(`${base}/zip`))).toEqual(reference);
    const hub = await failure(fromPretrained('google/reformer-enwik8'));
    expect(hub).toBeInstanceOf(InvalidArgumentError);
    expect(hub.message).toMatch(
      /google\/reformer-enwik8 is not a folder.*huggingface-cli download.*https:\/\/huggingface\.co\/<id>\/resolve\/main\//,
    );
  });
});
