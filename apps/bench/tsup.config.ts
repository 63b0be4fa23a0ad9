import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { cli: 'src/index.ts' },
  format: ['esm'],
  dts: false,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // tfjs-core's Node (CJS) bundle has no gradient configs; bundle its ESM registration file, which
  // registers them in tfjs's global registry (shared with the CJS engine), for the plain-tfjs baseline.
  noExternal: [/@tensorflow\/tfjs-core\/dist\/register_all_gradients/],
});
