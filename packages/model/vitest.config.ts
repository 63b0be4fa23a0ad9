import { reformerVitestConfig } from '@reformer/vitest-preset';

// Node 20 validates WebAssembly relaxed SIMD only behind this flag (Node 22+ has it on by default): the
// wasm parity test runs both kernel builds of @reformer/backend-wasm.
export default reformerVitestConfig({ test: { execArgv: ['--experimental-wasm-relaxed-simd'] } });
