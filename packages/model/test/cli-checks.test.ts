import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listCheckpoints, readTrainerState } from '../src/node.js';
import { TINY_MODEL_FLAGS, cliTempDir, runCli, withFlags } from './cli-run.js';

const tempDir = cliTempDir('reformer-cli-checks-');

const tiny = withFlags(['duplication', ...TINY_MODEL_FLAGS, '--vocab', '8'], ['--layers', '1']);
/** `tiny` with some flags' values replaced. */
const tinyWith = (over: string[]): string[] => withFlags(tiny, over);
const run = (args: string[]) => runCli(args, tempDir());

function expectRefused(r: { code: number | null; stdout: string; stderr: string }, message: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace
  expect(r.stdout).not.toMatch(/^step /m); // refused before the first step
}

describe('reformer-train: flag syntax', () => {
  it.each([
    [['--steps', '0x10'], /--steps must be a decimal integer ≥ 1, got '0x10'/],
    [['--steps', '1e1'], /--steps must be a decimal integer ≥ 1, got '1e1'/],
    [['--length', '1e9'], /--length must be a decimal integer ≥ 2, got '1e9'/],
    [['--lr', '0x1'], /--lr must be a decimal number in \[0, Infinity\], got '0x1'/],
    [['--lr', 'Infinity'], /--lr must be a decimal number/],
    [['--steps', '5', '--steps', '6'], /--steps is given more than once/],
    [['--resume', '--resume', '--checkpoint-dir', 'x'], /--resume is given more than once/],
    [['--seed', '-1'], /--seed must be a decimal integer ≥ 0, got '-1'/],
    [['--lr', '-0.5'], /--lr must be a decimal number in \[0, Infinity\], got '-0.5'/],
    [['--valid-fraction', '0.5'], /--valid-fraction is for char-lm/],
    [['--max-memory', 'lots'], /--max-memory must be a size such as 16G/],
    [['--overwrite'], /--overwrite needs --checkpoint-dir/],
  ])('duplication %j: exit 2 with a message naming the flag', async (args, message) => {
    const r = await run(args[0] === '--length' ? tinyWith(args) : [...tiny, ...args]);
    expectRefused(r, message);
    expect(r.stderr).not.toContain('ambiguous');
    expect(r.stderr).toContain('Usage: reformer-train');
  });

  it('accepts decimal numbers with exponents for real-valued flags (--lr 5e-3)', async () => {
    const r = await run([...tiny, '--steps', '1', '--lr', '5e-3', '--out', join(tempDir(), 'lr')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('lr 0.005');
  });
});

describe('reformer-train: sizes checked before allocating', () => {
  it.each([
    [['--length', '1000000000'], /hidden states|logits|weights/],
    [['--d-model', '99999999', '--head-size', '8'], /The largest part is weights, gradients and Adam state: lower --d-model/],
    [['--batch', '100000000'], /The largest part is .*lower --batch/],
  ])('%j: a TrainingMemoryError with the bytes needed and what to change, exit 2', async (args, part) => {
    const r = await run(tinyWith(['--steps', '1', ...args]));
    expectRefused(r, /these flags need at least [\d.]+ [KMGTPE]iB \([\d,.e+]+ bytes\) to train, more than --max-memory/);
    expect(r.stderr).toMatch(part);
    expect(r.stderr).toContain('raise --max-memory');
  });

  it('a size error of the model itself (a named ReformerError) is printed cleanly with exit 2', async () => {
    const r = await run(tinyWith(['--steps', '1', '--buckets', '2147483648', '--out', join(tempDir(), 'buckets')]));
    expectRefused(r, /these flags make a model that cannot be built:\n[A-Z]\w+Error: /);
    expect(r.stderr).toContain('2147483648');
  });

  it('the bound is --max-memory: the tiny model is refused under 1M and trains under 64G', async () => {
    expectRefused(
      await run([...tiny, '--steps', '1', '--max-memory', '1K', '--out', join(tempDir(), 'mm')]),
      /more than --max-memory 1\.0 KiB \(1,024 bytes\) \(from --max-memory\)/,
    );
    expect((await run([...tiny, '--steps', '1', '--max-memory', '64G', '--out', join(tempDir(), 'mm')])).code).toBe(0);
  });
});

describe('reformer-train: output paths checked before the first step', () => {
  it('--out naming an existing file, or a path below a file; --checkpoint-dir naming a file: OutputPathError, exit 2', async () => {
    const file = join(tempDir(), 'a-file');
    await writeFile(file, 'not a directory');
    expectRefused(await run([...tiny, '--steps', '2', '--out', file]), new RegExp(`--out ${file}: exists and is a file, not a directory`));
    expectRefused(
      await run([...tiny, '--steps', '2', '--out', join(file, 'model')]),
      new RegExp(`--out ${file}/model: ${file} is a file, not a directory`),
    );
    expectRefused(
      await run([...tiny, '--steps', '2', '--checkpoint-dir', file]),
      new RegExp(`--checkpoint-dir ${file}: exists and is a file`),
    );
    expect(await readFile(file, 'utf8')).toBe('not a directory');
  });

  it('an output directory that cannot be written: OutputPathError naming it, exit 2', async () => {
    // Without root, a directory without write permission; as root (which ignores permissions), /proc,
    // where no directory can be created.
    let target: string;
    let blocked: string;
    if (process.getuid?.() === 0) {
      blocked = '/proc';
      target = '/proc/reformer-out';
    } else {
      blocked = join(tempDir(), 'read-only');
      await mkdir(blocked, { mode: 0o555 });
      target = join(blocked, 'model');
    }
    const r = await run([...tiny, '--steps', '2', '--out', target]);
    expectRefused(r, new RegExp(`--out ${target}: the directory ${blocked} is not writable \\((EACCES|EPERM|EROFS|ENOENT)\\)`));
  });
});

describe('reformer-train: run identity of a checkpoint directory', () => {
  it('a new run into a directory with another run’s checkpoints is refused; --overwrite replaces them; --resume checks the settings', async () => {
    const ck = join(tempDir(), 'runs');
    const first = await run([...tiny, '--steps', '4', '--checkpoint-every', '2', '--checkpoint-dir', ck]);
    expect(first.code, first.stderr).toBe(0);
    const finalBefore = await readFile(join(ck, 'final', 'model.safetensors'));

    // Run 2 with other settings, no --resume: refused, nothing touched.
    const second = await run([...tiny, '--steps', '2', '--lr', '5e-3', '--checkpoint-dir', ck]);
    expectRefused(second, /CheckpointDirInUse|already holds checkpoints of a run \(checkpoint-00000002, checkpoint-00000004\)/);
    expect(second.stderr).toContain('--overwrite');
    expect(await listCheckpoints(ck)).toEqual(['checkpoint-00000002', 'checkpoint-00000004']);
    expect((await readFile(join(ck, 'final', 'model.safetensors'))).equals(finalBefore)).toBe(true);
    // Each checkpoint records the run's settings.
    const state = await readTrainerState(join(ck, 'checkpoint-00000004'));
    expect(state['run']).toMatchObject({ task: 'duplication', steps: 4, lr: 0.001, seed: 0, 'd-model': 16 });

    // --resume with another learning rate: refused, naming the difference.
    const mismatch = await run([...tiny, '--steps', '6', '--lr', '5e-3', '--checkpoint-dir', ck, '--resume']);
    expectRefused(mismatch, /--lr 0\.001 → 0\.005/);
    expect(mismatch.stderr).not.toMatch(/--steps 4 → 6/);

    // --resume with more steps: allowed and reported.
    const more = await run([...tiny, '--steps', '6', '--checkpoint-dir', ck, '--resume', '--log-every', '1']);
    expect(more.code, more.stderr).toBe(0);
    expect(more.stdout).toContain('resuming with changed settings: --steps 4 → 6');
    expect(more.stdout).toMatch(/^step 5\/6 /m);

    // --overwrite: run 2 replaces run 1.
    const over = await run([...tiny, '--steps', '2', '--lr', '5e-3', '--checkpoint-dir', ck, '--overwrite']);
    expect(over.code, over.stderr).toBe(0);
    expect(over.stdout).toContain("--overwrite: deleted the previous run's checkpoints");
    const names = await listCheckpoints(ck);
    expect(names.at(-1)).toBe('checkpoint-00000002');
    expect((await readTrainerState(join(ck, names.at(-1)!)))['run']).toMatchObject({ steps: 2, lr: 0.005 });
    expect((await readdir(ck)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('a truncated trainer_state.json: the newest is skipped with a warning naming it; the only one gives a CheckpointError with its path', async () => {
    const ck = join(tempDir(), 'truncated');
    expect((await run([...tiny, '--steps', '4', '--checkpoint-every', '2', '--checkpoint-dir', ck])).code).toBe(0);
    const newest = join(ck, 'checkpoint-00000004', 'trainer_state.json');
    await writeFile(newest, (await readFile(newest, 'utf8')).slice(0, 20));
    const r = await run([...tiny, '--steps', '4', '--checkpoint-dir', ck, '--resume']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`warning: skipping the incomplete or damaged checkpoint ${newest.replace(/\/trainer_state\.json$/, '')}`);
    expect(r.stderr).toContain(newest);
    expect(r.stdout).toContain(`resuming from ${join(ck, 'checkpoint-00000002')} (step 2)`);

    const only = join(tempDir(), 'only');
    await mkdir(only);
    expect((await run([...tiny, '--steps', '1', '--checkpoint-dir', only])).code).toBe(0);
    const file = join(only, 'checkpoint-00000001', 'trainer_state.json');
    await writeFile(file, '{\n  "step": 1,\n  "se');
    const bad = await run([...tiny, '--steps', '2', '--checkpoint-dir', only, '--resume']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/CheckpointError: .*none of its checkpoints is complete/);
    expect(bad.stderr).toContain(`${file}: not valid JSON`);
    expect(bad.stderr).not.toMatch(/^\s+at /m);
  });
});
