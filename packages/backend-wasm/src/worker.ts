/** The kernel worker for browsers (a module Web Worker): see `pool-protocol.ts`. */
import { workerLoop, type WorkerInit } from './pool-protocol.js';

declare const self: { onmessage: ((e: { data: WorkerInit }) => void) | null; postMessage(m: unknown): void; close(): void };

self.onmessage = (e) => {
  self.onmessage = null;
  workerLoop(e.data, () => self.postMessage('ready'));
  self.close();
};
