/** The built CLI in a subprocess, as users run it (run `pnpm --filter bench build` first; turbo does it before `test`). */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** `dist/cli.js`, the built `reformer-bench`. */
export const cliPath = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

/** Runs `node --expose-gc dist/cli.js ...args` to completion (killed after 2 minutes): exit code and output. */
export function runBenchCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--expose-gc', cliPath, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
