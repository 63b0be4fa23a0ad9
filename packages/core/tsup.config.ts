import { reformerTsupConfig } from '@reformer/tsup-preset';
import { defineConfig } from 'tsup';

export default defineConfig(
  reformerTsupConfig({
    entry: {
      index: 'src/index.ts',
      'testing/index': 'src/testing/index.ts',
      'node/index': 'src/node/index.ts',
    },
    external: ['vitest'],
  }),
);
