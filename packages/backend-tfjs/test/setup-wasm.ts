import * as tf from '@tensorflow/tfjs-core';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createTfjsBackend } from '../src/index.js';
import { wasmPathsForNode } from '../src/node.js';

setWasmPaths(wasmPathsForNode());
setThreadsCount(1);

/** A new tfjs-wasm backend (offline: the .wasm files come from the installed package). */
export function createWasm() {
  return createTfjsBackend({ tf, backendName: 'wasm' });
}

export { tf };
