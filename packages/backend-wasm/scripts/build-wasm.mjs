// Compiles assembly/ (AssemblyScript) to dist/kernels-simd.wasm (SIMD128) and
// dist/kernels-relaxed.wasm (SIMD128 + relaxed SIMD: fused multiply-add). Run by `pnpm build`.
import asc from 'assemblyscript/asc';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(join(root, 'dist'), { recursive: true });

const common = [
  'assembly/index.ts',
  '--optimizeLevel', '3',
  '--shrinkLevel', '0',
  '--runtime', 'stub',
  '--importMemory',
  '--noAssert',
  '--use', 'abort=',
  '--enable', 'simd',
];

for (const [name, extra] of [
  ['simd', []],
  ['relaxed', ['--enable', 'relaxed-simd']],
]) {
  const { error, stderr } = await asc.main([...common, ...extra, '--outFile', `dist/kernels-${name}.wasm`], {
    stdout: process.stdout,
    stderr: process.stderr,
    // asc resolves paths against the current directory
  });
  if (error) {
    console.error(`asc failed for kernels-${name}.wasm: ${error.message}\n${stderr.toString()}`);
    process.exit(1);
  }
}
