// reformer-convert: in process (main) over the PyTorch fixtures (fixtures/pytorch/, written by torch.save
// from the tiny-lsh-causal fixture), and once as users run it: the committed bin in a subprocess (turbo
// builds before testing).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { HostTensor } from '@reformer/core';
import { readSafetensorsFile } from '@reformer/core/node';
import { main } from '../src/convert-cli.js';
import { readWeightsFromDir } from '../src/weights-files.js';
import { fixtureDir } from './helpers.js';

const bin = fileURLToPath(new URL('../bin/reformer-convert.js', import.meta.url));
const PT = (sub: string): string => fileURLToPath(new URL(`./fixtures/pytorch/${sub}/`, import.meta.url));
const ORIGINAL = join(fileURLToPath(fixtureDir('tiny-lsh-causal')), 'model.safetensors');
const MALICIOUS = fileURLToPath(new URL('../../core/test/fixtures/pytorch/malicious.pt', import.meta.url));
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function copyOf(sub: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'reformer-convert-'));
  dirs.push(dir);
  cpSync(PT(sub), dir, { recursive: true });
  return dir;
}

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { write: (s: string) => (stdout += s) }, { write: (s: string) => (stderr += s) });
  return { code, stdout, stderr };
}

function bits(t: HostTensor): number[] {
  return Array.from(new Uint32Array(t.values.buffer, t.values.byteOffset, t.values.length));
}

async function expectSameAsOriginal(path: string): Promise<void> {
  const [got, want] = await Promise.all([readSafetensorsFile(path), readSafetensorsFile(ORIGINAL)]);
  expect(got.metadata).toEqual({ format: 'pt' });
  expect([...got.tensors.keys()].sort()).toEqual([...want.tensors.keys()].sort());
  for (const [name, t] of want.tensors) {
    expect(got.tensors.get(name)!.shape, name).toEqual(t.shape);
    expect(bits(got.tensors.get(name)!), name).toEqual(bits(t));
  }
}

describe('reformer-convert', () => {
  it('a folder with pytorch_model.bin → model.safetensors, bit-identical to the original, preferred by the loader afterwards', async () => {
    const dir = copyOf('zip');
    const r = await run([dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/pytorch_model\.bin → .*model\.safetensors: 29 tensors, [\d,]+ values, [\d.]+ MiB in [\d.]+ s/);
    await expectSameAsOriginal(join(dir, 'model.safetensors'));
    expect((await readWeightsFromDir(dir)).source).toBe('model.safetensors');
  });

  it('a sharded legacy-format checkpoint, by its index, → one file', async () => {
    const dir = copyOf('sharded');
    const r = await run([join(dir, 'pytorch_model.bin.index.json'), '--out', join(dir, 'merged.safetensors')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('pytorch_model-00001-of-00002.bin, pytorch_model-00002-of-00002.bin →');
    await expectSameAsOriginal(join(dir, 'merged.safetensors'));
  });

  it('refuses to replace an existing output without --force', async () => {
    const dir = copyOf('zip');
    expect((await run([dir])).code).toBe(0);
    const again = await run([dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/model\.safetensors exists; pass --force/);
    expect((await run([dir, '--force'])).code).toBe(0);
  });

  it('a malicious file: exit 1 naming PickleSecurityError, nothing written, nothing run', async () => {
    const marker = '/tmp/reformer-pytorch-fixture-pwned';
    rmSync(marker, { force: true });
    const dir = mkdtempSync(join(tmpdir(), 'reformer-convert-'));
    dirs.push(dir);
    cpSync(MALICIOUS, join(dir, 'pytorch_model.bin'));
    const r = await run([dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^reformer-convert: PickleSecurityError: .*pytorch_model\.bin: .*posix\.system/);
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(false);
    expect(existsSync(marker)).toBe(false);
  });

  it('bad command lines: exit 2 with the usage', async () => {
    for (const args of [[], ['a', 'b'], ['--nope', 'x']]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('Usage: reformer-convert');
    }
    const missing = await run([join(tmpdir(), 'no-such-reformer-folder')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no such file or folder/);
    const empty = mkdtempSync(join(tmpdir(), 'reformer-convert-'));
    dirs.push(empty);
    expect((await run([empty])).stderr).toMatch(/no pytorch_model\.bin or pytorch_model\.bin\.index\.json in this folder/);
  });

  it('runs as the installed command (bin/reformer-convert.js)', async () => {
    const dir = copyOf('zip');
    const r = spawnSync(process.execPath, [bin, dir], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/→ .*model\.safetensors: 29 tensors/);
    await expectSameAsOriginal(join(dir, 'model.safetensors'));
    const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8', timeout: 120_000 });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: reformer-convert <input>');
  });
});
