#!/usr/bin/env node
// Prints one of the two commands the root README starts with: `main` (install and run the benchmark)
// or `test` (install everything the tests need and run them all). A test checks that `.ci/run` holds
// the test command verbatim, so CI runs exactly what the README tells a new user to run.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The README's two commands: the lines of the first ```sh block, each with its trailing `# comment`
 * removed. Throws when the block is missing or does not hold exactly two commands.
 * @param {string} readme the README's text
 * @returns {{ main: string, test: string }}
 */
export function readmeCommands(readme) {
  const block = /```sh\n([\s\S]*?)```/.exec(readme);
  if (!block) throw new Error('README.md: no ```sh block with the two quick-start commands');
  const lines = block[1]
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '');
  if (lines.length !== 2) {
    throw new Error(`README.md: the first \`\`\`sh block must hold exactly two commands (main job, tests); found ${lines.length}`);
  }
  return { main: lines[0], test: lines[1] };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const which = process.argv[2];
  if (which !== 'main' && which !== 'test') {
    console.error('usage: readme-commands.mjs main|test');
    process.exit(2);
  }
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  console.log(readmeCommands(readFileSync(join(root, 'README.md'), 'utf8'))[which]);
}
