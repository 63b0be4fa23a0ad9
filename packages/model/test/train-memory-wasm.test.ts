// @reformer/backend-wasm over a long training run: 1,000 steps of a causal Reformer LM (LSH and local
// layers, reversible, dropout, AdamW, gradient clipping, evaluation every 100 steps) on two threads must
// keep live tensors, live bytes and the WebAssembly memory itself flat — no leak in the allocator, the
// threaded kernels' scratch or the model code.
import { describe, expect, it } from 'vitest';
import { createWasmBackend } from '@reformer/backend-wasm/node';
import { AdamW, memory } from '@reformer/core';
import { onBackend } from '@reformer/core/testing';
import { ReformerModelWithLMHead, duplicationTask, train } from '../src/index.js';
import { trainConfig } from './helpers.js';

describe('train on backend-wasm: memory stays flat over 1,000 steps', () => {
  it('live tensors, live bytes and wasm memory after step 10 equal those after step 1,000', async () => {
    const backend = await createWasmBackend({ threads: 2 });
    try {
      await onBackend(backend, async () => {
        const task = duplicationTask({ length: 16, vocabSize: 12, seed: 1, evalBatches: 1, evalBatchSize: 2 });
        const model = new ReformerModelWithLMHead(trainConfig({ hidden_dropout_prob: 0.1, attn_layers: ['lsh', 'local'] }), { seed: 3 });
        const optimizer = new AdamW(model.namedParameters());
        const seen = new Map<number, Record<string, number>>();
        const losses: number[] = [];
        await train({
          model,
          optimizer,
          data: task,
          batchSize: 2,
          steps: 1000,
          clipNorm: 1,
          evalEvery: 100,
          onProgress: (p) => {
            const m = memory();
            seen.set(p.step, { tensors: m.liveTensors, bytes: m.liveBytes, wasm: Number(backend.memory().wasmMemoryBytes) });
            losses.push(p.loss);
          },
        });
        expect(seen.size).toBe(1000);
        expect(seen.get(10)!.tensors).toBeGreaterThan(0);
        expect(seen.get(1000)).toEqual(seen.get(10));
        expect(seen.get(500)).toEqual(seen.get(10));
        expect(losses.every(Number.isFinite)).toBe(true);
        model.dispose();
        optimizer.dispose();
      });
    } finally {
      backend.dispose();
    }
  }, 240_000);
});
