#!/usr/bin/env node
// The `reformer-generate` command (see `reformer-generate --help`); runs the built CLI.
import { generateMain } from '../dist/generate-cli.js';

generateMain(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`reformer-generate: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
