/**
 * Node-only helpers of @reformer/backend-tfjs (kept out of the main entry so browser bundles never
 * import `node:module`).
 * @packageDocumentation
 */
import { createRequire } from 'node:module';

/**
 * The folder (with a trailing `/`) holding the `.wasm` files of the installed
 * `@tensorflow/tfjs-backend-wasm`, for `setWasmPaths(wasmPathsForNode())` in Node (offline; no CDN).
 */
export function wasmPathsForNode(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('@tensorflow/tfjs-backend-wasm');
  const dir = main.slice(0, Math.max(main.lastIndexOf('/'), main.lastIndexOf('\\')) + 1);
  return dir;
}
