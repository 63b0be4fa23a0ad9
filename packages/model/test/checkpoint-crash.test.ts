import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Adam } from '@reformer/core';
import { CheckpointError, ReformerModelWithLMHead, serializeModel } from '../src/index.js';
import { nodeCheckpointFs, type CheckpointFs } from '../src/durable-fs.js';
import { listCheckpoints, loadLatestCheckpoint, saveCheckpoint } from '../src/node.js';
import { tinyConfig } from './helpers.js';

const config = tinyConfig({ hash_seed: 5 });
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'reformer-crash-'));
  dirs.push(d);
  return d;
}

class Crash extends Error {}
type How = 'before' | 'during';

/**
 * The real file system with a crash injected at operation `at`: that operation does not happen
 * ('before') or happens halfway ('during': a write leaves half the bytes, a recursive delete removes one
 * entry), and every later operation fails too, as if the process had died there (no cleanup runs).
 */
function crashingFs(at: number, how: How): { fs: CheckpointFs; ops: string[] } {
  const ops: string[] = [];
  let dead = false;
  const step = async (name: string, path: string, partial?: () => Promise<void>): Promise<boolean> => {
    if (dead) throw new Crash('dead');
    const i = ops.length;
    ops.push(`${name} ${path}`);
    if (i !== at) return true;
    dead = true;
    if (how === 'during' && partial !== undefined) await partial();
    throw new Crash(`crash ${how} operation ${i}: ${name} ${path}`);
  };
  const fs: CheckpointFs = {
    mkdir: async (p) => void ((await step('mkdir', p)) && (await nodeCheckpointFs.mkdir(p))),
    writeFile: async (p, data) => {
      const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
      if (await step('writeFile', p, () => writeFile(p, bytes.subarray(0, bytes.length >> 1)))) await nodeCheckpointFs.writeFile(p, data);
    },
    syncDir: async (p) => void ((await step('syncDir', p)) && (await nodeCheckpointFs.syncDir(p))),
    rename: async (a, b) => void ((await step('rename', `${a} -> ${b}`)) && (await nodeCheckpointFs.rename(a, b))),
    rm: async (p) => {
      const partial = async (): Promise<void> => {
        const entries = await readdir(p).catch(() => [] as string[]);
        if (entries[0] !== undefined) await rm(join(p, entries[0]), { recursive: true, force: true });
      };
      if (await step('rm', p, partial)) await nodeCheckpointFs.rm(p);
    },
    readdir: async (p) => ((await step('readdir', p)) ? nodeCheckpointFs.readdir(p) : []),
  };
  return { fs, ops };
}

function model(seed: number): { model: ReformerModelWithLMHead; optimizer: Adam } {
  const m = new ReformerModelWithLMHead(config, { seed });
  return { model: m, optimizer: new Adam(m.namedParameters(), { lr: 1e-3 }) };
}

async function weightsOf(m: ReformerModelWithLMHead): Promise<Buffer> {
  return Buffer.from((await serializeModel(m)).weights);
}

describe('saveCheckpoint: a crash at any operation leaves a complete checkpoint', () => {
  // Two situations: re-saving a step that already has a checkpoint (the old one must survive until the
  // new one is complete) and saving a new step with `keep` pruning the oldest.
  it.each([
    ['re-saving step 4', 4],
    ['saving step 6 with keep 2', 6],
  ])(
    '%s: crash before / during every operation of the sequence',
    async (_what, newStep) => {
      const a = model(1);
      const b = model(2);
      const c = model(3);
      const [wa, wb, wc] = await Promise.all([weightsOf(a.model), weightsOf(b.model), weightsOf(c.model)]);
      // A clean save: how many operations the sequence has.
      const probeDir = await tempDir();
      await saveCheckpoint(probeDir, { ...a, state: { step: 2 } });
      await saveCheckpoint(probeDir, { ...b, state: { step: 4 } });
      const probe = crashingFs(-1, 'before');
      await saveCheckpoint(probeDir, { ...c, state: { step: newStep } }, { keep: 2, fs: probe.fs });
      const total = probe.ops.length;
      expect(total).toBeGreaterThan(8);

      for (const how of ['before', 'during'] as const) {
        for (let at = 0; at < total; at++) {
          const dir = await tempDir();
          await saveCheckpoint(dir, { ...a, state: { step: 2 } });
          await saveCheckpoint(dir, { ...b, state: { step: 4 } });
          const { fs, ops } = crashingFs(at, how);
          await expect(saveCheckpoint(dir, { ...c, state: { step: newStep } }, { keep: 2, fs }), `crash ${how} ${at}`).rejects.toThrow(
            Crash,
          );
          const where = `crash ${how} operation ${at} (${ops[at]})`;
          // What a reader finds: the old newest checkpoint (step 4, b) or the new one (c), complete.
          const warnings: string[] = [];
          const ck = await loadLatestCheckpoint(dir, { onWarning: (m) => void warnings.push(m) });
          expect(ck, where).not.toBeNull();
          expect(warnings, where).toEqual([]);
          const onDisk = await readFile(join(ck!.path, 'model.safetensors'));
          if (ck!.state.step === newStep && onDisk.equals(wc)) {
            // the new one
          } else {
            expect(ck!.state.step, where).toBe(4);
            expect(onDisk.equals(wb), `${where}: the step-4 checkpoint holds the old weights`).toBe(true);
          }
          expect(onDisk.equals(wa), where).toBe(false);
          ck!.model.dispose();
          // The next save cleans up whatever the crashed one left behind.
          await saveCheckpoint(dir, { ...c, state: { step: 8 } }, { keep: 2 });
          const left = (await readdir(dir)).sort();
          expect(
            left.filter((n) => n.startsWith('.')),
            `${where}: scratch directories left`,
          ).toEqual([]);
          expect(left.length, where).toBe(2);
          expect(
            left.every((n) => /^checkpoint-\d{8}(\.\d+)?$/.test(n)),
            where,
          ).toBe(true);
        }
      }
      for (const s of [a, b, c]) {
        s.model.dispose();
        s.optimizer.dispose();
      }
    },
    120_000,
  );

  it('a re-save is visible as the newest checkpoint and replaces the old one', async () => {
    const dir = await tempDir();
    const a = model(1);
    const b = model(2);
    await saveCheckpoint(dir, { ...a, state: { step: 4, v: 'a' } });
    const path = await saveCheckpoint(dir, { ...b, state: { step: 4, v: 'b' } });
    expect(await listCheckpoints(dir)).toEqual(['checkpoint-00000004.1']);
    const ck = await loadLatestCheckpoint(dir);
    expect(ck!.path).toBe(path);
    expect(ck!.state).toEqual({ step: 4, v: 'b' });
    ck!.model.dispose();
    for (const s of [a, b]) s.model.dispose();
  });
});

describe('loadLatestCheckpoint: incomplete checkpoints', () => {
  async function threeCheckpoints(): Promise<string> {
    const dir = await tempDir();
    const a = model(1);
    for (const step of [1, 2, 3]) await saveCheckpoint(dir, { ...a, state: { step } });
    a.model.dispose();
    a.optimizer.dispose();
    return dir;
  }

  it.each([
    ['config.json removed', async (p: string) => rm(join(p, 'config.json'))],
    [
      'model.safetensors truncated',
      async (p: string) => writeFile(join(p, 'model.safetensors'), (await readFile(join(p, 'model.safetensors'))).subarray(0, 100)),
    ],
    ['trainer_state.json truncated', async (p: string) => writeFile(join(p, 'trainer_state.json'), '{\n  "step": 3,\n  "lo')],
    [
      'an empty directory',
      async (p: string) => {
        await rm(p, { recursive: true });
        await mkdir(p);
      },
    ],
  ])('newest with %s: skipped with a warning naming it, the previous one loads', async (_what, damage) => {
    const dir = await threeCheckpoints();
    const newest = join(dir, 'checkpoint-00000003');
    await damage(newest);
    const warnings: string[] = [];
    const ck = await loadLatestCheckpoint(dir, { onWarning: (m) => void warnings.push(m) });
    expect(ck!.state.step).toBe(2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(newest);
    ck!.model.dispose();
  });

  it('a truncated trainer_state.json in the only checkpoint: a CheckpointError naming the file', async () => {
    const dir = await tempDir();
    const a = model(1);
    await saveCheckpoint(dir, { ...a, state: { step: 7 } });
    const file = join(dir, 'checkpoint-00000007', 'trainer_state.json');
    await writeFile(file, '{ "step": 7, "se');
    const warnings: string[] = [];
    const load = loadLatestCheckpoint(dir, { onWarning: (m) => void warnings.push(m) });
    await expect(load).rejects.toThrow(CheckpointError);
    await expect(loadLatestCheckpoint(dir, { onWarning: () => undefined })).rejects.toThrow(file);
    expect(warnings[0]).toContain(file);
    a.model.dispose();
  });

  it('scratch directories of killed saves (their process is gone) are removed by the next save', async () => {
    const dir = await tempDir();
    const a = model(1);
    await saveCheckpoint(dir, { ...a, state: { step: 1 } });
    // pid 2^22 + 1 is above Linux's pid_max ceiling: no such process.
    for (const n of ['.checkpoint-00000002.4194305.1733212345678.tmp', '.checkpoint-00000001.4194305.abcdef01.old']) {
      await mkdir(join(dir, n));
      await writeFile(join(dir, n, 'model.safetensors'), 'x');
    }
    await saveCheckpoint(dir, { ...a, state: { step: 2 } });
    expect((await readdir(dir)).sort()).toEqual(['checkpoint-00000001', 'checkpoint-00000002']);
    a.model.dispose();
  });
});
