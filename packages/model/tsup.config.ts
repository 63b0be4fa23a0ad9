import { defineConfig } from 'tsup';

export default defineConfig({
  // cli, generate-cli, convert-cli: what the `reformer-train`, `reformer-generate` and `reformer-convert` commands (bin/*.js) run.
  entry: {
    index: 'src/index.ts',
    node: 'src/node.ts',
    testing: 'src/testing/index.ts',
    cli: 'src/cli.ts',
    'generate-cli': 'src/generate-cli.ts',
    'convert-cli': 'src/convert-cli.ts',
  },
  format: ['esm'],
  dts: { entry: { index: 'src/index.ts', node: 'src/node.ts', testing: 'src/testing/index.ts' } },
  // No source maps in the published package: the ESM output is unminified and readable as it is (docs/architecture.md, "Publishing").
  sourcemap: false,
  clean: true,
  target: 'es2022',
  external: ['@reformer/core', '@reformer/core/node', '@reformer/lsh', '@reformer/reversible', '@reformer/chunked-ffn', 'vitest'],
});
