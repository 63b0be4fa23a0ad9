import { reformerTsupConfig } from '@reformer/tsup-preset';
import { defineConfig } from 'tsup';

export default defineConfig(
  reformerTsupConfig({ entry: { index: 'src/index.ts', node: 'src/node.ts' }, external: ['@reformer/core', 'webgpu'] }),
);
