import { defineConfig } from 'vite';

// The browser page (`pnpm --filter bench dev`, or `vite build` into dist-web/): index.html and
// src/browser/main.ts, sharing the measurement code with the CLI.
export default defineConfig({
  root: '.',
  build: { outDir: 'dist-web', emptyOutDir: true, target: 'es2022' },
  optimizeDeps: { exclude: ['@tensorflow/tfjs-backend-wasm'] },
  server: { host: '127.0.0.1' },
});
