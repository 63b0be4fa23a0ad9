import { defineConfig } from 'tsup';

export default defineConfig({
  // cli: the `reformer-train` bin. Its source starts with `#!/usr/bin/env node`, which esbuild keeps and
  // tsup's shebang handling turns into an executable dist/cli.js.
  entry: { index: 'src/index.ts', node: 'src/node.ts', testing: 'src/testing/index.ts', cli: 'src/cli.ts' },
  format: ['esm'],
  dts: { entry: { index: 'src/index.ts', node: 'src/node.ts', testing: 'src/testing/index.ts' } },
  sourcemap: true,
  clean: true,
  target: 'es2022',
  external: ['@reformer/core', '@reformer/core/node', '@reformer/lsh', '@reformer/reversible', '@reformer/chunked-ffn', 'vitest'],
});
