/** Every suite runs at a tiny size on the CPU backend and produces rows. Behaviour, not speed: no timing thresholds. */
import { createCpuBackend } from '@reformer/core';
import { describe, expect, it } from 'vitest';
import { parseChunkedArgs, runChunkedSuite } from '../src/suites/chunked.js';
import { KERNEL_REFERENCE, kernelCases, kernelsReport, parseKernelsArgs, runKernelsSuite, type KernelImpl } from '../src/suites/kernels.js';
import { parseLoadArgs, runLoadSuite } from '../src/suites/load.js';
import { parseModelSuiteArgs, runModelSuite } from '../src/suites/model.js';
import { parseReversibleArgs, runReversibleSuite } from '../src/suites/reversible.js';
import { instrument, parseProfileArgs, runProfileSuite } from '../src/suites/profile.js';
import { formatReport, formatTable, type SuiteContext } from '../src/suites/suite.js';
import { onnxKernelPeer, tfjsKernelPeer } from '../src/node/kernel-peers.js';
import { loadNodeModelBench } from '../src/node/model.js';
import { tfjsKernelProfiler } from '../src/node/suites.js';
import { startNodeBackend } from '../src/node/backends.js';
import type { RunEnvironment } from '../src/runner.js';

const ctx: SuiteContext = {
  startBackend: async (name) => {
    if (name !== 'cpu') throw new Error(`only cpu in this test, not ${name}`);
    return { backend: createCpuBackend(), info: 'cpu' };
  },
  log: () => {},
};

describe('suites at tiny sizes', () => {
  it('kernels: one row per case and implementation, figure = work / time, ratio to plain tfjs-wasm, reasons for what cannot run', async () => {
    const o = parseKernelsArgs([
      '--backends',
      'cpu,webgpu',
      '--sizes',
      '8',
      '--batched',
      '2',
      '--elements',
      '64',
      '--slots',
      '128',
      '--repeats',
      '1',
      '--warmup',
      '0',
    ]);
    const peers: KernelImpl[] = [tfjsKernelPeer('wasm'), onnxKernelPeer(1)];
    const data = await runKernelsSuite(o, ctx, peers);
    const cases = kernelCases(o);
    expect(data.info).toContain('webgpu: unavailable (only cpu in this test, not webgpu)');
    expect(data.rows).toHaveLength(cases.length * 3); // cpu, plain tfjs-wasm, onnxruntime (webgpu did not start)
    for (const row of data.rows) {
      const c = cases.find((k) => k.name === row.case)!;
      if (row.implementation !== 'cpu' && c.op.startsWith('attention')) {
        expect(row.figure).toBeNull();
        expect(row.note).toMatch(/no fused chunked attention/);
        continue;
      }
      expect(row.note).toBe('');
      expect(row.figure).toBeCloseTo(c.work / ((row.ms as number) * 1e6), 6);
      expect(row.unit).toBe(c.unit);
      if (row.implementation === KERNEL_REFERENCE) expect(row[`÷ ${KERNEL_REFERENCE}`]).toBe(1);
    }
    const text = formatTable(kernelsReport(o, data).tables[0]!);
    expect(text).toContain('| matmul 8³');
    expect(text).toContain('onnxruntime-cpu');
  }, 60_000);

  it('reversible: a row per depth; the parameters of two blocks are twice those of one', async () => {
    const o = parseReversibleArgs([
      '--length',
      '64',
      '--dmodel',
      '8',
      '--depths',
      '1,2',
      '--repeats',
      '1',
      '--chunk',
      '16',
      '--chunk-depth',
      '2',
    ]);
    const r = await runReversibleSuite(o, ctx);
    const [sweep, chunk] = r.tables;
    expect(sweep!.rows.map((x) => x.depth)).toEqual([1, 2]);
    expect(sweep!.rows[1]!['params MiB']).toBeCloseTo(2 * (sweep!.rows[0]!['params MiB'] as number), 12);
    for (const row of sweep!.rows) {
      expect(row['rev peak MiB']).toBeGreaterThan(0);
      expect(row['plain peak MiB']).toBeGreaterThan(0);
    }
    expect(chunk!.rows.map((x) => x['ff chunkSize'])).toEqual(['0 (unchunked)', '16']);
    expect(chunk!.rows[0]!['peak vs unchunked']).toBe(1);
    expect(formatReport(r)).toContain('time reversible / plain');
  }, 60_000);

  it('chunked: a row per chunk size of the feed-forward and per LM-head variant', async () => {
    const o = parseChunkedArgs([
      '--length',
      '32',
      '--hidden',
      '8',
      '--divisors',
      '1,2,8',
      '--head-length',
      '16',
      '--head-hidden',
      '8',
      '--vocab',
      '32',
      '--head-chunks',
      '4',
      '--repeats',
      '1',
      '--warmup',
      '0',
    ]);
    const r = await runChunkedSuite(o, ctx);
    const [ff, head] = r.tables;
    expect(ff!.rows.map((x) => x.chunkSize)).toEqual(['L/1 (0)', 'L/2 (16)', 'L/8 (4)']);
    expect(ff!.rows[0]!['peak vs L/1']).toBe(1);
    expect(head!.rows.map((x) => x.variant)).toEqual(['materialised logits', 'chunked, chunkSize 4']);
    for (const row of [...ff!.rows, ...head!.rows]) expect(row['peak MiB']).toBeGreaterThan(0);
    expect(r.notes[0]).toMatch(/peak\(L\/8\)/);
    await expect(runChunkedSuite(parseChunkedArgs(['--length', '30', '--divisors', '4']), ctx)).rejects.toThrow(
      /does not divide --length 30/,
    );
  }, 60_000);

  it('model: both models, measured', async () => {
    const o = parseModelSuiteArgs(['--backend', 'cpu', '--lengths', '64', '--depths', '1', '--repeats', '1', '--warmup', '0']);
    const env: RunEnvironment = { startBackend: ctx.startBackend, baselines: [], referenceBackend: () => createCpuBackend() };
    const r = await runModelSuite(o, ctx, await loadNodeModelBench(), env);
    const rows = r.tables[0]!.rows;
    expect(rows.map((x) => [x.model, x.depth, x.length, x.status])).toEqual([
      ['reformer', 1, 64, 'ok'],
      ['transformer', 1, 64, 'ok'],
    ]);
    for (const row of rows) expect(row['step ms']).toBeGreaterThan(0);
  }, 60_000);

  it('load: saves a small checkpoint and loads it in a fresh process', async () => {
    const r = await runLoadSuite(parseLoadArgs(['--quick', '--no-torch']), ctx);
    const rows = r.tables[0]!.rows;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ 'weights file': 'model.safetensors' });
    expect(rows[0]!['size MiB']).toBeGreaterThan(0);
    expect(rows[0]!.tensors).toBeGreaterThan(0);
    expect(r.notes).toEqual(['pytorch_model.bin rows skipped (--no-torch).']);
  }, 60_000);

  it('load --forward: runs the model forward in a fresh process; a length it cannot run is a row saying why', async () => {
    // The small architecture has 256 positions: 512 tokens must fail with the model's named error.
    const r = await runLoadSuite(parseLoadArgs(['--quick', '--no-torch', '--forward', '64,512', '--forward-backend', 'cpu']), ctx);
    expect(r.tables).toHaveLength(2);
    const [ok, bad] = r.tables[1]!.rows;
    expect(ok).toMatchObject({ length: 64, backend: 'cpu (reference)', result: 'finite' });
    expect(ok!.s).toBeGreaterThan(0);
    expect(ok!['peak tensor MiB']).toBeGreaterThan(0);
    expect(bad).toMatchObject({ length: 512, s: null });
    expect(String(bad!.result)).toMatch(/max_position_embeddings|axial/);
  }, 120_000);

  it('profile: the Backend methods of an LSH step with their calls, and the backend is restored afterwards', async () => {
    const cpu = createCpuBackend();
    const original = cpu.matmul;
    const r = await runProfileSuite(parseProfileArgs(['--backend', 'cpu', '--length', '128', '--hashes', '1']), {
      ...ctx,
      startBackend: async () => ({ backend: cpu, info: 'cpu' }),
    });
    const rows = r.tables[0]!.rows;
    const methods = rows.map((x) => x.method);
    expect(methods).toContain('matmul');
    for (const row of rows) expect(row.calls).toBeGreaterThan(0);
    expect(cpu.matmul).toBe(original);
    expect(Object.hasOwn(cpu, 'matmul')).toBe(false);
  }, 60_000);

  it('profile on tfjs-wasm adds tfjs kernels', async () => {
    const r = await runProfileSuite(
      parseProfileArgs(['--backend', 'tfjs-wasm', '--length', '128', '--hashes', '1', '--forward-only']),
      { ...ctx, startBackend: startNodeBackend },
      tfjsKernelProfiler,
    );
    expect(r.tables).toHaveLength(2);
    expect(r.tables[1]!.rows.length).toBeGreaterThan(0);
  }, 60_000);

  it('instrument counts every call of a method', () => {
    const cpu = createCpuBackend();
    const { tally, restore } = instrument(cpu);
    const s = cpu.write(new Float32Array([1, 2]), 'float32');
    cpu.free(s);
    cpu.free(cpu.write(new Float32Array([3]), 'float32'));
    restore();
    expect(tally.get('write')?.calls).toBe(2);
    expect(tally.get('free')?.calls).toBe(2);
  });
});
