// Compiles assembly/ (AssemblyScript) to dist/kernels-simd.wasm (SIMD128) and
// dist/kernels-relaxed.wasm (SIMD128 + relaxed SIMD: fused multiply-add), each also as a `-shared`
// build that imports a shared memory (threads: the same module instantiated in every worker over one
// SharedArrayBuffer-backed memory). Run by `pnpm build`.
import asc from 'assemblyscript/asc';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(join(root, 'dist'), { recursive: true });

const common = [
  'assembly/index.ts',
  '--optimizeLevel',
  '3',
  '--shrinkLevel',
  '0',
  '--runtime',
  'stub',
  '--importMemory',
  '--noAssert',
  '--use',
  'abort=',
  '--enable',
  'simd',
];

// A shared memory must declare its maximum: the whole wasm32 address space (the host's memory may be
// smaller; an import matches when its maximum is not larger).
const shared = ['--sharedMemory', '--maximumMemory', '65536', '--enable', 'threads'];
for (const [name, extra] of [
  ['simd', []],
  ['relaxed', ['--enable', 'relaxed-simd']],
  ['simd-shared', shared],
  ['relaxed-shared', ['--enable', 'relaxed-simd', ...shared]],
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
