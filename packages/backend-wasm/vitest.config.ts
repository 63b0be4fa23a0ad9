import { reformerVitestConfig } from '@reformer/vitest-preset';

// Node 20 validates relaxed SIMD only behind this flag (Node 22+ has it on by default): the test
// workers get it so both kernel builds are tested (each test file names the build it runs).
export default reformerVitestConfig({ test: { execArgv: ['--experimental-wasm-relaxed-simd'] } });
