import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReformerModelWithLMHead } from '../src/index.js';
import { loadModelFromDir } from '../src/node.js';
import { TINY_MODEL_FLAGS, cliTempDir, runCli } from './cli-run.js';

// The CLI runs as users run it: `node dist/cli.js` in a subprocess (turbo builds before testing).
const tempDir = cliTempDir('reformer-cli-');
const run = (args: string[]) => runCli(args, tempDir());
const tiny = TINY_MODEL_FLAGS;

describe('reformer-train', () => {
  it('trains duplication with checkpoints and evaluation, saves a loadable model, and resumes', async () => {
    const ck = join(tempDir(), 'dup');
    const first = await run([
      'duplication',
      ...tiny,
      '--vocab',
      '8',
      '--hashes',
      '2',
      '--steps',
      '4',
      '--eval-every',
      '2',
      '--eval-hashes',
      '1,2',
      '--eval-batches',
      '1',
      '--checkpoint-dir',
      ck,
      '--log-every',
      '1',
    ]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(
      /^reformer-train duplication: 2 × lsh layer\(s\), d_model 16, 2 heads, 2 hash round\(s\), length 16, vocab 8/,
    );
    for (let s = 1; s <= 4; s++)
      expect(first.stdout).toMatch(new RegExp(`^step ${s}/4  loss \\d+\\.\\d{4}  lr \\S+  \\|g\\| \\S+  \\S+ tok/s  ETA \\S+$`, 'm'));
    expect(first.stdout).toMatch(/^eval @ step 2: loss@1 \d\.\d{4}  accuracy@1 \d+\.\d{2}%  loss@2 \d\.\d{4}  accuracy@2 \d+\.\d{2}%$/m);
    expect(first.stdout).toMatch(/^eval @ step 4: /m);
    expect(first.stdout).toContain(`saved the model to ${join(ck, 'final')}`);
    expect((await readdir(ck)).sort()).toEqual(['checkpoint-00000002', 'checkpoint-00000004', 'final']);

    const model = await loadModelFromDir(join(ck, 'final'));
    expect(model).toBeInstanceOf(ReformerModelWithLMHead);
    expect(model.config.attn_layers).toEqual(['lsh', 'lsh']);
    expect(model.config.num_hashes).toBe(2);
    expect(model.config.vocab_size).toBe(8);
    model.dispose();

    const resumed = await run([
      'duplication',
      ...tiny,
      '--vocab',
      '8',
      '--hashes',
      '2',
      '--steps',
      '6',
      '--checkpoint-dir',
      ck,
      '--resume',
      '--log-every',
      '1',
    ]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(`resuming from ${join(ck, 'checkpoint-00000004')} (step 4)`);
    expect(resumed.stdout).not.toMatch(/^step [1-4]\/6/m);
    expect(resumed.stdout).toMatch(/^step 5\/6 /m);
    expect(resumed.stdout).toMatch(/^done at step 6 /m);
  });

  it('trains a byte-level LM on a text file and reports bits per character', async () => {
    const text = join(tempDir(), 'corpus.txt');
    await writeFile(text, 'the quick brown fox jumps over the lazy dog. '.repeat(12));
    const out = join(tempDir(), 'clm');
    const r = await run(['char-lm', '--text', text, ...tiny, '--steps', '2', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/vocab 256/);
    const m = /^eval @ step 2: loss (\d+\.\d{4})  bpc (\d+\.\d{4})$/m.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(Number(m![2])).toBeCloseTo(Number(m![1]) / Math.LN2, 3);
    const model = await loadModelFromDir(out);
    expect(model.config.vocab_size).toBe(256);
    model.dispose();
  });

  it.each([
    [['duplication', '--steps', 'abc'], /--steps must be a decimal integer ≥ 1, got 'abc'/],
    [['duplication', '--length', '15'], /--length must be even and ≥ 4 for duplication, got '15'/],
    [['duplication', '--attention', 'sparse'], /--attention must be one of lsh, local, full, got 'sparse'/],
    [['duplication', '--eval-hashes', '1,x'], /--eval-hashes .*got '1,x'/],
    [['duplication', '--bogus'], /Unknown option '--bogus'/],
    [['translate'], /unknown task 'translate'/],
    [['char-lm'], /char-lm needs --text FILE/],
    [['duplication', '--resume'], /--resume needs --checkpoint-dir/],
  ])('rejects %j with exit status 2 and the usage text', async (args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('Usage: reformer-train <task> [flags]');
  });

  it('prints the usage with --help and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: reformer-train <task> [flags]');
  });
});

describe('reformer-train output helpers', () => {
  it('formats durations, progress lines and the TTY progress bar', async () => {
    const { formatDuration, progressBar, progressLine } = await import('../src/cli.js');
    expect([formatDuration(45), formatDuration(192), formatDuration(3720), formatDuration(Infinity)]).toEqual([
      '45s',
      '3m12s',
      '1h02m',
      '?',
    ]);
    const p = { step: 5, steps: 20, loss: 1.23456, gradNorm: 0.5, lr: 0.001, tokensPerSecond: 12345, etaSeconds: 75, elapsedSeconds: 25 };
    expect(progressLine(p)).toBe('step  5/20  loss 1.2346  lr 1.00e-3  |g| 0.500  12.3k tok/s  ETA 1m15s');
    expect(progressBar(p, 8)).toBe(`[##......] ${progressLine(p)}`);
  });

  it('draws the bar in place on a TTY (carriage return, erase line), then the summary', async () => {
    const { main } = await import('../src/cli.js');
    let written = '';
    const out = { isTTY: true, columns: 300, write: (s: string) => (written += s) };
    const err = { write: (s: string) => (written += `ERR ${s}`) };
    const code = await main(['duplication', ...tiny, '--vocab', '8', '--steps', '3', '--out', join(tempDir(), 'tty')], out, err);
    expect(code).toBe(0);
    expect(written).not.toContain('ERR');
    for (let s = 1; s <= 3; s++)
      expect(written).toContain(`\r\x1b[2K[${'#'.repeat(Math.round((24 * s) / 3)).padEnd(24, '.')}] step ${s}/3  loss `);
    // The bar is erased before the evaluation line and the summary, which are plain lines.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the progress bar's terminal escape sequence is what is checked
    expect(written).toMatch(/ETA \S+\r\x1b\[2Keval @ step 3: loss \S+  accuracy \S+%\ndone at step 3 in \S+; loss/);
  });
});
