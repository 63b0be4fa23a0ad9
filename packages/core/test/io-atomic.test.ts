import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SafetensorsError } from '../src/errors.js';
import { parseSafetensors, serializeSafetensors, type HostTensor } from '../src/io/index.js';
import { readSafetensorsFile, writeFileAtomic, writeSafetensorsFile } from '../src/node/index.js';

/**
 * Fault injection: `node:fs/promises` is wrapped so that a test can make the temp file's write, its
 * fsync, or the rename fail. Files opened for exclusive creation ('wx', the temp file) are recorded.
 */
const fault = vi.hoisted(() => ({
  mode: null as null | 'write' | 'sync' | 'rename',
  tempOpened: [] as string[],
}));

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const fail = (code: string) => Object.assign(new Error(`${code}: simulated failure`), { code });
  const open = (async (path: string, flags?: string, mode?: number) => {
    const fh = await actual.open(path, flags, mode);
    if (flags !== 'wx') return fh;
    fault.tempOpened.push(String(path));
    return new Proxy(fh, {
      get(target, prop) {
        if (prop === 'writeFile' && fault.mode === 'write') {
          return async (data: Uint8Array | string) => {
            const bytes = typeof data === 'string' ? Buffer.from(data) : data;
            await target.write(bytes, 0, Math.floor(bytes.length / 2)); // half written, then the disk is full
            throw fail('ENOSPC');
          };
        }
        if (prop === 'sync' && fault.mode === 'sync') return async () => Promise.reject(fail('EIO'));
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }) as typeof actual.open;
  const rename = (async (from: string, to: string) => {
    if (fault.mode === 'rename') throw fail('EXDEV');
    return actual.rename(from, to);
  }) as typeof actual.rename;
  return { ...actual, open, rename, default: { ...actual, open, rename } };
});

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'reformer-io-atomic-'));
  fault.mode = null;
  fault.tempOpened = [];
});

afterEach(async () => {
  fault.mode = null;
  await rm(dir, { recursive: true, force: true });
});

async function listDir(d = dir): Promise<string[]> {
  return (await readdir(d)).sort();
}

async function rejection(p: Promise<unknown>): Promise<NodeJS.ErrnoException> {
  try {
    await p;
  } catch (e) {
    return e as NodeJS.ErrnoException;
  }
  throw new Error('expected the promise to reject');
}

describe('writeFileAtomic', () => {
  it('creates a new file with the given bytes and leaves no temp file', async () => {
    const target = join(dir, 'out.bin');
    const data = new Uint8Array([1, 2, 3, 250, 0, 7]);
    await writeFileAtomic(target, data);
    expect(new Uint8Array(await readFile(target))).toEqual(data);
    expect(await listDir()).toEqual(['out.bin']);
    // It did go through a temp file in the same directory.
    expect(fault.tempOpened).toHaveLength(1);
    expect(dirname(fault.tempOpened[0]!)).toBe(dir);
    expect(fault.tempOpened[0]).toMatch(new RegExp(`\\.out\\.bin\\.${process.pid}\\.[0-9a-f]+\\.tmp$`));
  });

  it('replaces an existing file (string data as UTF-8) and keeps its permission bits', async () => {
    const target = join(dir, 'a.txt');
    await writeFile(target, 'old content that is longer than the new one');
    await chmod(target, 0o640);
    await writeFileAtomic(target, 'nouveau ✓');
    expect(await readFile(target, 'utf8')).toBe('nouveau ✓');
    expect((await stat(target)).mode & 0o777).toBe(0o640);
    expect(await listDir()).toEqual(['a.txt']);
  });

  it('writes only the bytes of a Uint8Array view', async () => {
    const target = join(dir, 'view.bin');
    const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
    await writeFileAtomic(target, backing.subarray(2, 5));
    expect([...(await readFile(target))]).toEqual([1, 2, 3]);
  });

  it('uses a unique temp file per call: concurrent writes all succeed, one wins whole', async () => {
    const target = join(dir, 'race.txt');
    const contents = Array.from({ length: 20 }, (_, i) => `writer ${i} `.repeat(1000 + i));
    await Promise.all(contents.map((c) => writeFileAtomic(target, c)));
    expect(contents).toContain(await readFile(target, 'utf8'));
    expect(new Set(fault.tempOpened).size).toBe(20);
    expect(await listDir()).toEqual(['race.txt']);
  });

  it('rejects with ENOENT when the directory does not exist and creates nothing', async () => {
    const target = join(dir, 'missing', 'out.bin');
    const err = await rejection(writeFileAtomic(target, new Uint8Array([1])));
    expect(err.code).toBe('ENOENT');
    expect(await listDir()).toEqual([]);
  });

  it('leaves a directory target untouched and removes the temp file when the rename cannot happen', async () => {
    const target = join(dir, 'target');
    await mkdir(target);
    await writeFile(join(target, 'inside.txt'), 'keep me');
    const err = await rejection(writeFileAtomic(target, 'new'));
    expect(['EISDIR', 'ENOTEMPTY', 'EEXIST', 'EPERM']).toContain(err.code);
    expect(fault.tempOpened).toHaveLength(1); // the temp file was created...
    expect(existsSync(fault.tempOpened[0]!)).toBe(false); // ...and removed
    expect((await stat(target)).isDirectory()).toBe(true);
    expect(await readFile(join(target, 'inside.txt'), 'utf8')).toBe('keep me');
    expect(await listDir()).toEqual(['target']);
  });

  for (const [mode, code] of [
    ['write', 'ENOSPC'],
    ['sync', 'EIO'],
    ['rename', 'EXDEV'],
  ] as const) {
    it(`keeps the old target intact and removes the temp file when the ${mode} step fails`, async () => {
      const target = join(dir, 'model.safetensors');
      await writeFile(target, 'OLD');
      fault.mode = mode;
      const err = await rejection(writeFileAtomic(target, new Uint8Array(1 << 16).fill(0x41)));
      expect(err.code).toBe(code);
      expect(fault.tempOpened).toHaveLength(1);
      expect(existsSync(fault.tempOpened[0]!)).toBe(false);
      expect(await readFile(target, 'utf8')).toBe('OLD');
      expect(await listDir()).toEqual(['model.safetensors']);
    });
  }

  it('does not create the target when the first write fails', async () => {
    const target = join(dir, 'new.bin');
    fault.mode = 'write';
    await rejection(writeFileAtomic(target, 'abcdef'));
    expect(await listDir()).toEqual([]);
  });
});

describe('readSafetensorsFile / writeSafetensorsFile', () => {
  const tensors: Record<string, HostTensor> = {
    w: { dtype: 'float32', shape: [2, 2], values: Float32Array.from([1, -2.5, 3e-8, 4]) },
    ids: { dtype: 'int32', shape: [3], values: Int32Array.from([7, -1, 2147483647]) },
    s: { dtype: 'float32', shape: [], values: Float32Array.from([0.5]) },
  };

  it('writes the serialized bytes atomically and reads them back', async () => {
    const target = join(dir, 'm.safetensors');
    await writeFile(target, 'previous');
    await writeSafetensorsFile(target, tensors, { format: 'pt' });
    const bytes = new Uint8Array(await readFile(target));
    expect(bytes).toEqual(serializeSafetensors(tensors, { format: 'pt' }));
    const back = await readSafetensorsFile(target);
    expect(back.metadata).toEqual({ format: 'pt' });
    expect(Array.from(back.tensors.get('w')!.values)).toEqual(Array.from(tensors.w!.values));
    expect(Array.from(back.tensors.get('ids')!.values)).toEqual([7, -1, 2147483647]);
    expect(back.tensors.get('s')!.shape).toEqual([]);
    expect(await listDir()).toEqual(['m.safetensors']);
  });

  it('leaves an existing file untouched when a tensor is invalid', async () => {
    const target = join(dir, 'm.safetensors');
    await writeFile(target, 'previous');
    const bad = { x: { dtype: 'float32', shape: [5], values: new Float32Array(2) } as HostTensor };
    await expect(writeSafetensorsFile(target, bad)).rejects.toBeInstanceOf(SafetensorsError);
    expect(await readFile(target, 'utf8')).toBe('previous');
    expect(await listDir()).toEqual(['m.safetensors']);
  });

  it('names the path in the error for a corrupt file', async () => {
    const target = join(dir, 'corrupt.safetensors');
    await writeFile(target, new Uint8Array([1, 2, 3]));
    const err = await rejection(readSafetensorsFile(target));
    expect(err).toBeInstanceOf(SafetensorsError);
    expect(err.message.startsWith(`${target}: `)).toBe(true);
    expect(err.message).toMatch(/shorter than the 8-byte/);
    expect(err.cause).toBeInstanceOf(SafetensorsError);
  });

  it('rejects with the fs error for a missing file', async () => {
    const err = await rejection(readSafetensorsFile(join(dir, 'nope.safetensors')));
    expect(err.code).toBe('ENOENT');
  });

  it('reads a fixture file the same as parseSafetensors', async () => {
    const url = new URL('../../../../shared/fixtures/hf-reformer/tiny-lsh-causal/model.safetensors', import.meta.url);
    const viaFile = await readSafetensorsFile(fileURLToPath(url));
    const viaParse = parseSafetensors(await readFile(url));
    expect([...viaFile.tensors.keys()]).toEqual([...viaParse.tensors.keys()]);
    expect(viaFile.tensors.size).toBeGreaterThan(10);
    const name = 'reformer.embeddings.word_embeddings.weight';
    expect(viaFile.tensors.get(name)!.shape).toEqual([40, 32]);
    expect(Array.from(viaFile.tensors.get(name)!.values)).toEqual(Array.from(viaParse.tensors.get(name)!.values));
  });
});
