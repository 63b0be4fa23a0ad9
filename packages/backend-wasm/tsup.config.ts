import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', node: 'src/node.ts', worker: 'src/worker.ts', 'worker-node': 'src/worker-node.ts' },
  format: ['esm'],
  dts: true,
  // No source maps in the published package: the ESM output is unminified and readable as it is (docs/architecture.md, "Publishing").
  sourcemap: false,
  clean: true,
  target: 'es2022',
  external: ['@reformer/core'],
});
