#!/usr/bin/env node
// The `reformer-train` command. A committed file rather than a path into dist/, so that pnpm and npm can
// link the command at install time, before the first build; it runs the built CLI.
import '../dist/cli.js';
