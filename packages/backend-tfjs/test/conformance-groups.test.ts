/**
 * The conformance suite again with chunkedAttention cut into one-chunk groups and with the strategy
 * each tfjs backend does not use by default (band on cpu, batched on wasm), so the group loops, the
 * band masks and the scatter of window gradients are all checked against the oracles.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { createCpuBackend } from '@reformer/core';
import { backendConformance } from '@reformer/core/testing';
import { createTfjsBackend } from '../src/index.js';
import './setup-wasm.js';

const tiny = 1; // bytes: every group is a single chunk

backendConformance(
  'tfjs-cpu, band strategy, one-chunk groups',
  () => createTfjsBackend({ tf, backendName: 'cpu', attentionStrategy: 'band', attentionGroupBytes: tiny }),
  { reference: () => createCpuBackend() },
);
backendConformance(
  'tfjs-wasm, batched strategy, one-chunk groups',
  () => createTfjsBackend({ tf, backendName: 'wasm', attentionStrategy: 'batched', attentionGroupBytes: tiny }),
  { reference: () => createCpuBackend() },
);
