import { reformerTsupConfig } from '@reformer/tsup-preset';
import { defineConfig } from 'tsup';

export default defineConfig(
  reformerTsupConfig({
    // cli, generate-cli, convert-cli: what the `reformer-train`, `reformer-generate` and `reformer-convert` commands (bin/*.js) run.
    entry: {
      index: 'src/index.ts',
      node: 'src/node.ts',
      testing: 'src/testing/index.ts',
      cli: 'src/cli.ts',
      'generate-cli': 'src/generate-cli.ts',
      'convert-cli': 'src/convert-cli.ts',
    },
    dts: { entry: { index: 'src/index.ts', node: 'src/node.ts', testing: 'src/testing/index.ts' } },
    external: ['@reformer/core', '@reformer/core/node', '@reformer/lsh', '@reformer/reversible', '@reformer/chunked-ffn', 'vitest'],
  }),
);
