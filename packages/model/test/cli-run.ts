import { execFile, spawn } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';

/** The built CLI, run as users run it: `node dist/cli.js` in a subprocess (turbo builds before testing). */
export const cliPath = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

export async function assertBuilt(): Promise<void> {
  await access(cliPath).catch(() => {
    throw new Error(`${cliPath} is missing: build the package first (pnpm --filter @reformer/model build).`);
  });
}

/**
 * A scratch directory for the CLI runs of one test file: created (after checking that the CLI is built)
 * before its tests, removed after them. Returns a getter of its path.
 */
export function cliTempDir(prefix: string): () => string {
  let dir: string | undefined;
  beforeAll(async () => {
    await assertBuilt();
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (dir === undefined) throw new Error('cliTempDir: the directory exists only while the tests run.');
    return dir;
  };
}

/** The flags of a tiny reformer-train model (length 16, 2 layers of width 16, 2 heads, chunks of 4, batch 2). */
export const TINY_MODEL_FLAGS: readonly string[] = [
  '--length',
  '16',
  '--layers',
  '2',
  '--d-model',
  '16',
  '--heads',
  '2',
  '--chunk',
  '4',
  '--batch',
  '2',
];

/** `args` with the flags of `over` (`[flag, value, ...]`) replacing their earlier values. */
export function withFlags(args: readonly string[], over: readonly string[]): string[] {
  const out = [...args];
  for (let i = 0; i < over.length; i += 2) {
    const at = out.indexOf(over[i]!);
    if (at >= 0) out.splice(at, 2);
  }
  return [...out, ...over];
}

export interface CliRun {
  code: number | null;
  signal?: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion (killed after `timeout` ms). */
export function runCli(args: string[], cwd: string, timeout = 60_000): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { cwd, timeout }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Starts the CLI and sends it SIGINT when `interruptWhen(stdout)` first holds (then `extraDelayMs`
 * later), and a second SIGINT when stderr first says it was interrupted, if `twice`. Resolves when the
 * process exits; kills it with SIGKILL after `timeout` ms (the result then has signal SIGKILL).
 */
export function interruptCli(
  args: string[],
  cwd: string,
  options: { interruptWhen: (stdout: string) => boolean; extraDelayMs?: number; twice?: boolean; timeout?: number },
): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sent = 0;
    const killer = setTimeout(() => child.kill('SIGKILL'), options.timeout ?? 60_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (sent === 0 && options.interruptWhen(stdout)) {
        sent = 1;
        setTimeout(() => child.kill('SIGINT'), options.extraDelayMs ?? 0);
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (options.twice === true && sent === 1 && stderr.includes('interrupted')) {
        sent = 2;
        child.kill('SIGINT');
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
