import { createCpuBackend } from '@reformer/core';
import { backendConformance } from '@reformer/core/testing';
import { createWasm } from './setup-wasm.js';

backendConformance('tfjs-wasm', () => createWasm(), { reference: () => createCpuBackend() });
