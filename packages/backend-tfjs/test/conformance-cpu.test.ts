import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { createCpuBackend } from '@reformer/core';
import { backendConformance } from '@reformer/core/testing';
import { createTfjsBackend } from '../src/index.js';

backendConformance('tfjs-cpu', () => createTfjsBackend({ tf, backendName: 'cpu' }), { reference: () => createCpuBackend() });
