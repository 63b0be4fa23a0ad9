/** `--suite` through the built CLI (run `pnpm --filter bench build` first; turbo does it before `test`). */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBenchCli } from './run-cli.js';

const run = runBenchCli;

describe('reformer-bench --suite', () => {
  it('prints a suite usage with --help, and exits 2 naming an unknown suite or flag', async () => {
    const help = await run(['--', '--suite', 'kernels', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--suite kernels:');
    const bad = await run(['--suite', 'kernel']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown suite 'kernel'");
    const flag = await run(['--suite', 'chunked', '--lengths', '8']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("--suite chunked: unknown flag '--lengths'");
    expect(flag.stderr).toContain('--suite chunked: chunked feed-forward');
  });

  it('runs a tiny chunked suite and writes its JSON report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-suite-'));
    const r = await run([
      '--suite=chunked',
      '--length',
      '32',
      '--hidden',
      '8',
      '--divisors',
      '1,4',
      '--head-length',
      '16',
      '--head-hidden',
      '8',
      '--vocab',
      '32',
      '--head-chunks',
      '4',
      '--repeats',
      '1',
      '--json',
      join(dir, 'c.json'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('| L/4 (8)');
    const doc = JSON.parse(readFileSync(join(dir, 'c.json'), 'utf8'));
    expect(doc.suite).toBe('chunked');
    expect(doc.machine.cores).toBeGreaterThan(0);
    expect(doc.tables[0].rows).toHaveLength(2);
  });
});
