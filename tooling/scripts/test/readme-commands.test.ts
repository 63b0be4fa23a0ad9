// The README starts with exactly two commands, and CI runs the second one verbatim.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain .mjs script without type declarations
import { readmeCommands } from '../readme-commands.mjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string) => readFileSync(root + path, 'utf8');

describe('the README quick-start commands', () => {
  const { main, test } = readmeCommands(read('README.md')) as { main: string; test: string };

  it('both install the system packages, pnpm and the dependencies first', () => {
    for (const command of [main, test]) {
      expect(command.startsWith('bash tooling/scripts/setup-system.sh && npm i -g pnpm@10 && pnpm install && ')).toBe(true);
    }
  });

  it('the main job runs the benchmark and the test command ends with every test', () => {
    expect(main.endsWith('pnpm bench')).toBe(true);
    expect(test.endsWith('pnpm test')).toBe(true);
    expect(test).toContain('pnpm typecheck');
    expect(test).toContain('pnpm lint');
  });

  it('CI runs the README test command verbatim, and nothing installs outside it', () => {
    const ci = read('.ci/run');
    const commandLines = ci.split('\n').filter((line) => /^\s*(pnpm|npm|apt-get|bash tooling|eval)/.test(line));
    expect(commandLines).toEqual([test]);
  });

  it('rejects a README whose block does not hold exactly two commands', () => {
    expect(() => readmeCommands('# x\n```sh\npnpm test\n```\n')).toThrow(/exactly two commands/);
    expect(() => readmeCommands('# x\n')).toThrow(/no ```sh block/);
  });
});
