import { createCpuBackend } from '@reformer/core';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../src/args.js';
import { Progress } from '../src/progress.js';
import { countCases, runBenchmark, type ProgressEvent, type RunEnvironment } from '../src/runner.js';
import type { BenchConfig } from '../src/types.js';

const config: BenchConfig = {
  ...defaultConfig(),
  backends: ['webgpu', 'cpu'],
  variants: ['full', 'lsh-2'],
  lengths: [64, 128],
  passes: ['forward', 'backward'],
  heads: 1,
  dHead: 8,
  repeats: 2,
  warmup: 0,
  chunkLength: 16,
  baselines: false,
  model: false,
};

const env: RunEnvironment = {
  startBackend: async (name) => {
    if (name === 'webgpu') throw new Error('no adapter in this test');
    return { backend: createCpuBackend(), info: 'cpu' };
  },
  baselines: [],
  referenceBackend: () => createCpuBackend(),
};

describe('runBenchmark', () => {
  it('reports a backend that cannot start as unavailable with the reason, and runs the rest', async () => {
    const events: ProgressEvent[] = [];
    const out = await runBenchmark(config, env, { onProgress: (e) => events.push(e) });
    const un = out.records.filter((r) => r.status === 'unavailable');
    expect(un).toHaveLength(1);
    expect(un[0]).toMatchObject({ backend: 'webgpu', reason: 'no adapter in this test' });
    expect(out.backendInfo.webgpu).toBe('unavailable: no adapter in this test');
    const measured = out.records.filter((r) => r.backend === 'cpu');
    expect(measured).toHaveLength(config.variants.length * config.lengths.length * config.passes.length);
    for (const r of measured) {
      expect(r.status).toBe('ok');
      expect(r.runs).toBeGreaterThanOrEqual(1);
      expect(r.timesMs).toHaveLength(r.runs);
      expect(r.medianMs).toBeGreaterThan(0);
      expect(r.tokensPerSec! * (r.medianMs! / 1000)).toBeCloseTo(r.batch * r.length, 6);
      // The inputs alone are live at the start; the run allocates more on top.
      expect(r.baseBytes).toBeGreaterThan(0);
      expect(r.peakBytes!).toBeGreaterThan(r.baseBytes!);
      expect(r.maxAbsError).not.toBeNull();
    }
    const last = events.filter((e) => e.type === 'record').at(-1)!;
    expect(last).toMatchObject({ done: countCases(config, env), total: countCases(config, env) });
    expect(out.interrupted).toBe(false);
  });

  it('stops between cases when asked and returns what finished', async () => {
    let n = 0;
    const out = await runBenchmark({ ...config, backends: ['cpu'] }, env, {
      onProgress: (e) => {
        if (e.type === 'record') n++;
      },
      shouldStop: () => n >= 3,
    });
    expect(out.interrupted).toBe(true);
    expect(out.records).toHaveLength(3);
  });

  it('skips quadratic variants past the full-attention budget, naming the estimate', async () => {
    const out = await runBenchmark({ ...config, backends: ['cpu'], lengths: [64, 4096], passes: ['forward'], fullBudgetMs: 1e-6 }, env);
    const skipped = out.records.filter((r) => r.status === 'skipped');
    expect(skipped.map((r) => `${r.variant}@${r.length}`)).toEqual(['full@4096']);
    expect(skipped[0]!.reason).toMatch(/--full-budget/);
    // Where full attention did not fit there is no reference: no error figures.
    expect(out.records.find((r) => r.variant === 'lsh-2' && r.length === 4096)!.meanRelError).toBeNull();
  });
});

describe('Progress', () => {
  it('writes plain lines off a TTY and redraws a bar on a TTY', () => {
    const plain: string[] = [];
    const p = new Progress({ write: (s: string) => plain.push(s) }, false);
    const rec = {
      kind: 'attention',
      backend: 'cpu',
      variant: 'full',
      length: 1024,
      pass: 'forward',
      status: 'ok',
      medianMs: 2,
      usPerToken: 2,
      peakBytes: 1024,
      meanRelError: 0,
    } as never;
    p.update({ type: 'start', total: 2 });
    p.update({ type: 'case', label: 'x', done: 0, total: 2 });
    p.update({ type: 'record', record: rec, done: 1, total: 2 });
    expect(plain).toEqual([expect.stringMatching(/^\[1\/2\] cpu full L=1K fwd: 2(\.0+)? ms/)]);
    expect(plain.join('')).not.toContain('\r');
    const tty: string[] = [];
    const q = new Progress({ write: (s: string) => tty.push(s), isTTY: true, columns: 80 });
    q.update({ type: 'start', total: 2 });
    q.update({ type: 'case', label: 'x', done: 1, total: 2 });
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the progress bar's terminal escape sequence is what is checked
    expect(tty.at(-1)).toMatch(/^\r\x1b\[K\[#{12}\.{12}\] 1\/2/);
  });
});
