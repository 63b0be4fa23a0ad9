/** The kernel worker for Node (`worker_threads`): see `pool-protocol.ts`. */
import { parentPort, workerData } from 'node:worker_threads';
import { workerLoop, type WorkerInit } from './pool-protocol.js';

workerLoop(workerData as WorkerInit, () => parentPort!.postMessage('ready'));
