/**
 * Model folders in every weights layout Hugging Face publishes. The PyTorch folders
 * (`fixtures/pytorch/`, written by make.py with torch.save from the tiny-lsh-causal fixture's
 * model.safetensors) must load the same weights, bit for bit, as the safetensors original.
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckpointFormatError, PickleSecurityError, serializeSafetensors, type HostTensor } from '@reformer/core';
import { readSafetensorsFile } from '@reformer/core/node';
import { loadModelFromDir } from '../src/node.js';
import { MissingWeightsError, ShardIndexError, readWeightsFromDir } from '../src/weights-files.js';
import { fixtureDir } from './helpers.js';

const PT = (sub: string): string => fileURLToPath(new URL(`./fixtures/pytorch/${sub}/`, import.meta.url));
const ORIGINAL = fileURLToPath(fixtureDir('tiny-lsh-causal'));
const MALICIOUS = fileURLToPath(new URL('../../core/test/fixtures/pytorch/malicious.pt', import.meta.url));

const temps: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'reformer-weights-'));
  temps.push(d);
  return d;
}
afterEach(async () => {
  for (const d of temps.splice(0)) await rm(d, { recursive: true, force: true });
});

/** The error a promise rejects with (fails the test if it resolves). */
async function failure(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error,
  );
}

function bits(t: HostTensor): number[] {
  return Array.from(new Uint32Array(t.values.buffer, t.values.byteOffset, t.values.length));
}

async function stateBits(dir: string): Promise<Map<string, number[]>> {
  const model = await loadModelFromDir(dir);
  try {
    const out = new Map<string, number[]>();
    for (const [name, t] of model.stateDict()) out.set(name, Array.from(new Uint32Array(((await t.data()) as Float32Array).buffer)));
    return out;
  } finally {
    model.dispose();
  }
}

describe('readWeightsFromDir / loadModelFromDir', () => {
  it.each([
    ['zip', 'pytorch_model.bin', ['pytorch_model.bin']],
    ['sharded', 'pytorch_model.bin.index.json', ['pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin']],
  ])('%s: PyTorch weights equal the safetensors original bit for bit', async (sub, source, files) => {
    const original = await readSafetensorsFile(join(ORIGINAL, 'model.safetensors'));
    const got = await readWeightsFromDir(PT(sub));
    expect(got.source).toBe(source);
    expect(got.files).toEqual(files);
    expect([...got.tensors.keys()].sort()).toEqual([...original.tensors.keys()].sort());
    for (const [name, t] of original.tensors) {
      expect(got.tensors.get(name)!.shape, name).toEqual(t.shape);
      expect(bits(got.tensors.get(name)!), name).toEqual(bits(t));
    }
    // And through the model: the loaded parameters are those of the safetensors folder.
    expect(await stateBits(PT(sub))).toEqual(await stateBits(ORIGINAL));
  });

  it('a 2020-era checkpoint with the attention mask constants saved as buffers (0-d float16/float32) loads the same weights', async () => {
    const got = await readWeightsFromDir(PT('legacy-buffers'));
    expect(got.tensors.get('reformer.encoder.layers.0.attention.self_attention.self_mask_value_float16')).toEqual({
      dtype: 'float32',
      shape: [],
      values: Float32Array.of(-1000),
    });
    expect(got.tensors.size).toBe(29 + 2 * 4);
    expect(await stateBits(PT('legacy-buffers'))).toEqual(await stateBits(ORIGINAL));
  });

  it('sharded safetensors (model.safetensors.index.json) load the same weights', async () => {
    const dir = await tempDir();
    await copyFile(join(PT('zip'), 'config.json'), join(dir, 'config.json'));
    const original = await readSafetensorsFile(join(ORIGINAL, 'model.safetensors'));
    const names = [...original.tensors.keys()];
    const weightMap: Record<string, string> = {};
    for (const [i, part] of [names.slice(0, 10), names.slice(10)].entries()) {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      await writeFile(join(dir, file), serializeSafetensors(new Map(part.map((n) => [n, original.tensors.get(n)!]))));
      for (const n of part) weightMap[n] = file;
    }
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const got = await readWeightsFromDir(dir);
    expect(got.source).toBe('model.safetensors.index.json');
    expect(got.files).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(await stateBits(dir)).toEqual(await stateBits(ORIGINAL));
  });

  it('prefers model.safetensors when both formats are there', async () => {
    const dir = await tempDir();
    await copyFile(join(PT('zip'), 'config.json'), join(dir, 'config.json'));
    await copyFile(join(PT('zip'), 'pytorch_model.bin'), join(dir, 'pytorch_model.bin'));
    // A safetensors file whose weights differ from the .bin's: every value doubled.
    const original = await readSafetensorsFile(join(ORIGINAL, 'model.safetensors'));
    const doubled = new Map([...original.tensors].map(([k, t]) => [k, { ...t, values: (t.values as Float32Array).map((v) => 2 * v) }]));
    await writeFile(join(dir, 'model.safetensors'), serializeSafetensors(doubled));
    const got = await readWeightsFromDir(dir);
    expect(got.source).toBe('model.safetensors');
    const name = 'reformer.encoder.layers.0.attention.self_attention.query_key.weight';
    expect(Array.from(got.tensors.get(name)!.values)).toEqual(Array.from(doubled.get(name)!.values));
    expect(Array.from(got.tensors.get(name)!.values)).not.toEqual(Array.from(original.tensors.get(name)!.values));
  });

  it('a folder without weights names what was looked for and what was found', async () => {
    const dir = await tempDir();
    await copyFile(join(PT('zip'), 'config.json'), join(dir, 'config.json'));
    await writeFile(join(dir, 'README.md'), '# a model card\n');
    await writeFile(join(dir, 'tf_model.h5'), 'not ours');
    const e = await failure(loadModelFromDir(dir));
    expect(e).toBeInstanceOf(MissingWeightsError);
    expect(e.message).toContain(
      'Looked for model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json',
    );
    expect(e.message).toContain('found README.md, config.json, tf_model.h5');
    const missing = await failure(readWeightsFromDir(join(dir, 'nope')));
    expect(missing).toBeInstanceOf(MissingWeightsError);
    expect(missing.message).toMatch(/no such folder/);
  });

  it('a malicious pytorch_model.bin is a PickleSecurityError naming the file, and nothing runs', async () => {
    const marker = '/tmp/reformer-pytorch-fixture-pwned';
    await rm(marker, { force: true });
    const dir = await tempDir();
    await copyFile(join(PT('zip'), 'config.json'), join(dir, 'config.json'));
    await copyFile(MALICIOUS, join(dir, 'pytorch_model.bin'));
    const e = await failure(loadModelFromDir(dir));
    expect(e).toBeInstanceOf(PickleSecurityError);
    expect(e.message).toContain(join(dir, 'pytorch_model.bin'));
    expect(e.message).toContain('posix.system');
    await expect(readFile(marker)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a truncated pytorch_model.bin is a CheckpointFormatError naming the file', async () => {
    const dir = await tempDir();
    await copyFile(join(PT('zip'), 'config.json'), join(dir, 'config.json'));
    const bytes = await readFile(join(PT('zip'), 'pytorch_model.bin'));
    await writeFile(join(dir, 'pytorch_model.bin'), bytes.subarray(0, bytes.length - 100));
    const e = await failure(loadModelFromDir(dir));
    expect(e).toBeInstanceOf(CheckpointFormatError);
    expect(e.message).toMatch(new RegExp(`^${join(dir, 'pytorch_model.bin').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*truncated`));
  });

  describe('sharded index errors', () => {
    async function shardedCopy(edit: (index: { weight_map: Record<string, string> }) => void, drop?: string): Promise<string> {
      const dir = await tempDir();
      const src = PT('sharded');
      for (const f of ['config.json', 'pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin']) {
        if (f !== drop) await copyFile(join(src, f), join(dir, f));
      }
      const index = JSON.parse(await readFile(join(src, 'pytorch_model.bin.index.json'), 'utf8')) as { weight_map: Record<string, string> };
      edit(index);
      await writeFile(join(dir, 'pytorch_model.bin.index.json'), JSON.stringify(index));
      return dir;
    }

    it('a missing shard', async () => {
      const dir = await shardedCopy(() => undefined, 'pytorch_model-00002-of-00002.bin');
      await expect(readWeightsFromDir(dir)).rejects.toThrow(ShardIndexError);
      await expect(readWeightsFromDir(dir)).rejects.toThrow(
        /names shard pytorch_model-00002-of-00002\.bin, which is missing.*download all 2 shards/,
      );
    });

    it('a shard path outside the folder', async () => {
      const dir = await shardedCopy((i) => {
        const first = Object.keys(i.weight_map)[0]!;
        i.weight_map[first] = '../pytorch_model-00001-of-00002.bin';
      });
      await expect(readWeightsFromDir(dir)).rejects.toThrow(
        /maps to "\.\.\/pytorch_model-00001-of-00002\.bin", expected a file name in the same folder/,
      );
    });

    it('a tensor the index puts in the wrong shard', async () => {
      const dir = await shardedCopy((i) => {
        const [name, file] = Object.entries(i.weight_map).find(([, f]) => f.startsWith('pytorch_model-00002'))!;
        expect(file).toBe('pytorch_model-00002-of-00002.bin');
        i.weight_map[name] = 'pytorch_model-00001-of-00002.bin';
      });
      await expect(readWeightsFromDir(dir)).rejects.toThrow(
        /pytorch_model-00001-of-00002\.bin lacks 1 tensor\(s\) that pytorch_model\.bin\.index\.json puts in it/,
      );
    });

    it('an index that is not JSON or has no weight_map', async () => {
      const dir = await shardedCopy(() => undefined);
      await writeFile(join(dir, 'pytorch_model.bin.index.json'), '{"metadata": {}}');
      await expect(readWeightsFromDir(dir)).rejects.toThrow(/no "weight_map" object/);
      await writeFile(join(dir, 'pytorch_model.bin.index.json'), '{"weight_map": ');
      await expect(readWeightsFromDir(dir)).rejects.toThrow(/is not JSON/);
    });
  });
});
