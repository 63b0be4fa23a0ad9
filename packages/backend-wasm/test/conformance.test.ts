import { createCpuBackend } from '@reformer/core';
import { backendConformance } from '@reformer/core/testing';
import { createWasm } from './setup.js';

backendConformance('wasm', () => createWasm(), { reference: () => createCpuBackend() });
