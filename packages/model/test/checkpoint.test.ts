import { mkdtemp, readFile, readdir, writeFile, copyFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Adam, SafetensorsError, StateDictError, tensor, tidy } from '@reformer/core';
import { ReformerForMaskedLM, ReformerModelWithLMHead, loadModel, serializeModel } from '../src/index.js';
import { loadLatestCheckpoint, loadModelFromDir, saveCheckpoint, saveModel } from '../src/node.js';
import { randomIds, tinyConfig } from './helpers.js';

const tiny = tinyConfig({ hash_seed: 5 });

async function bytesOf(model: { stateDict(): Map<string, { data(): Promise<ArrayLike<number>> }> }): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [k, v] of model.stateDict()) out.set(k, Array.from(await v.data()));
  return out;
}

describe('checkpoints', () => {
  it('save → load round trip is bit-exact (files on disk and in-memory buffers), and logits agree', async () => {
    const model = new ReformerModelWithLMHead(tiny, { seed: 3 });
    const dir = await mkdtemp(join(tmpdir(), 'reformer-ckpt-'));
    await saveModel(dir, model);
    expect((await readdir(dir)).sort()).toEqual(['config.json', 'model.safetensors']);
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    expect(config.architectures).toEqual(['ReformerModelWithLMHead']);
    expect(config.num_hidden_layers).toBe(2);
    const loaded = await loadModelFromDir(dir);
    expect(loaded).toBeInstanceOf(ReformerModelWithLMHead);
    const a = await bytesOf(model);
    const b = await bytesOf(loaded);
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [k, v] of a) expect(Float32Array.from(b.get(k)!), k).toEqual(Float32Array.from(v));
    // In-memory (browser) path: ArrayBuffers.
    const files = await serializeModel(model);
    const fromBuffers = loadModel({ config: new TextEncoder().encode(files.config).buffer, weights: files.weights.slice().buffer });
    const ids = tensor(randomIds(1, 2 * 32, 0, 24), [2, 32], 'int32');
    tidy(() => {
      expect((loaded as ReformerModelWithLMHead).forward(ids).dataSync()).toEqual(model.forward(ids).dataSync());
      expect((fromBuffers as ReformerModelWithLMHead).forward(ids).dataSync()).toEqual(model.forward(ids).dataSync());
    });
    for (const m of [model, loaded, fromBuffers]) m.dispose();
  });

  it('a truncated checkpoint is rejected with a named error naming the file', async () => {
    const model = new ReformerForMaskedLM({ ...tiny, is_decoder: false }, { seed: 4 });
    const dir = await mkdtemp(join(tmpdir(), 'reformer-ckpt-'));
    await saveModel(dir, model);
    const bad = join(dir, 'truncated');
    await mkdir(bad);
    await copyFile(join(dir, 'config.json'), join(bad, 'config.json'));
    const full = await readFile(join(dir, 'model.safetensors'));
    await writeFile(join(bad, 'model.safetensors'), full.subarray(0, full.length - 100));
    await expect(loadModelFromDir(bad)).rejects.toThrow(SafetensorsError);
    await expect(loadModelFromDir(bad)).rejects.toThrow(
      /truncated[\s\S]*model\.safetensors|model\.safetensors[\s\S]*(truncated|end|short|bytes)/i,
    );
    model.dispose();
  });

  it('a failed save leaves the previous checkpoint on disk untouched', async () => {
    const first = new ReformerModelWithLMHead(tiny, { seed: 5 });
    const second = new ReformerModelWithLMHead(tiny, { seed: 6 });
    const dir = await mkdtemp(join(tmpdir(), 'reformer-ckpt-'));
    await saveModel(dir, first);
    const before = await Promise.all(['config.json', 'model.safetensors'].map((f) => readFile(join(dir, f))));
    second.lm_head.decoder.weight.dispose(); // serialising `second` now fails midway
    await expect(saveModel(dir, second)).rejects.toThrow();
    const after = await Promise.all(['config.json', 'model.safetensors'].map((f) => readFile(join(dir, f))));
    expect(after[0]!.equals(before[0]!)).toBe(true);
    expect(after[1]!.equals(before[1]!)).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(['config.json', 'model.safetensors']); // no temporary files left
    first.dispose();
    second.dispose();
  });

  it('missing, unexpected and mismatched parameter names are reported together, by name', async () => {
    const model = new ReformerModelWithLMHead(tiny, { seed: 7 });
    const { config } = await serializeModel(model);
    const other = new ReformerModelWithLMHead({ ...tiny, feed_forward_size: 16 }, { seed: 7 });
    const { weights } = await serializeModel(other);
    let error: unknown;
    try {
      loadModel({ config, weights });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StateDictError);
    const msg = String((error as Error).message);
    expect(msg).toContain('reformer.encoder.layers.0.feed_forward.dense.dense.weight');
    expect(msg).toContain('reformer.encoder.layers.1.feed_forward.output.dense.weight');
    // A checkpoint of another architecture: names missing and unexpected.
    const lsh = new ReformerModelWithLMHead({ ...tiny, attn_layers: ['lsh', 'lsh'] }, { seed: 7 });
    const lshFiles = await serializeModel(lsh);
    let e2: StateDictError | undefined;
    try {
      loadModel({ config, weights: lshFiles.weights });
    } catch (e) {
      e2 = e as StateDictError;
    }
    expect(e2).toBeInstanceOf(StateDictError);
    expect(e2!.missing).toEqual(expect.arrayContaining(['reformer.encoder.layers.1.attention.self_attention.query.weight']));
    expect(e2!.unexpected).toEqual(expect.arrayContaining(['reformer.encoder.layers.1.attention.self_attention.query_key.weight']));
    for (const m of [model, other, lsh]) m.dispose();
  });

  it('training checkpoints: model + optimizer state + trainer state, newest loaded, older pruned', async () => {
    const model = new ReformerModelWithLMHead(tiny, { seed: 8 });
    const opt = new Adam(model.namedParameters(), { lr: 1e-3 });
    const dir = await mkdtemp(join(tmpdir(), 'reformer-train-'));
    for (const step of [1, 2, 3]) await saveCheckpoint(dir, { model, optimizer: opt, state: { step, note: `s${step}` } }, { keep: 2 });
    expect((await readdir(dir)).sort()).toEqual(['checkpoint-00000002', 'checkpoint-00000003']);
    const ck = await loadLatestCheckpoint(dir);
    expect(ck!.state).toEqual({ step: 3, note: 's3' });
    const opt2 = new Adam(ck!.model.namedParameters(), { lr: 1e-3 });
    ck!.restoreOptimizer(opt2);
    expect(opt2.stepCount).toBe(opt.stepCount);
    expect(await loadLatestCheckpoint(join(dir, 'nothing-here'))).toBeNull();
    model.dispose();
    ck!.model.dispose();
  });
});
