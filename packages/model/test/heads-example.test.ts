import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

// The README's long-document example runs as users run it (`node examples/long-documents.mjs`, on the
// built package), here at a small setting so it cannot rot: 256-token documents, 80 steps.
const script = fileURLToPath(new URL('../examples/long-documents.mjs', import.meta.url));
const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));

beforeAll(async () => {
  await access(dist).catch(() => {
    throw new Error(`${dist} is missing: build the package first (pnpm --filter @reformer/model build).`);
  });
});

describe('examples/long-documents.mjs', () => {
  it('learns the long-range matching task under a per-allocation budget that refuses full attention', async () => {
    const args = ['--length', '256', '--steps', '80', '--batch', '2', '--budget-mib', '0.2', '--eval-docs', '32', '--json'];
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [script, ...args],
        { cwd: fileURLToPath(new URL('..', import.meta.url)), timeout: 280_000 },
        (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
      );
    });
    const report = JSON.parse(stdout.trim().split('\n').pop()!) as {
      length: number;
      peakBytes: number;
      fullAttention: { fits: boolean; bytes?: number; limit?: number };
      firstLoss: number;
      lastLoss: number;
      accuracy: number;
    };
    expect(report.length).toBe(256);
    // Full attention's [256, 256] logits (256 KiB) exceed the 0.2 MiB bound; every Reformer allocation fits it.
    expect(report.fullAttention).toEqual({ fits: false, bytes: 256 * 256 * 4, limit: 0.2 * 2 ** 20 });
    expect(report.peakBytes).toBeGreaterThan(0);
    expect(report.lastLoss).toBeLessThan(report.firstLoss / 2);
    expect(report.accuracy).toBeGreaterThanOrEqual(0.9);
  }, 300_000);
});
