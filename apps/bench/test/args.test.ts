import { describe, expect, it } from 'vitest';
import { defaultConfig, parseArgs, UsageError } from '../src/args.js';
import { modelBackendOf } from '../src/model.js';

describe('parseArgs', () => {
  it('gives the default configuration for no flags, and ignores the -- pnpm passes', () => {
    expect(parseArgs([]).config).toEqual(defaultConfig());
    expect(parseArgs(['--']).config).toEqual(defaultConfig());
  });

  it('measures the CPU reference, our wasm backend, tfjs-wasm and WebGPU by default, wasm at the default thread count', () => {
    const c = parseArgs([]).config;
    expect(c.backends).toEqual(['cpu', 'wasm', 'tfjs-wasm', 'webgpu']);
    // No thread count in the configuration: the Node starter gives wasm one thread (threads-suite.test.ts).
    expect(c.wasmThreads).toBeUndefined();
    expect(parseArgs(['--wasm-threads', '2']).config.wasmThreads).toBe(2);
  });

  it('runs the whole-model rows on wasm when measured, then tfjs-wasm, else the first backend, unless --model-backend says', () => {
    expect(modelBackendOf(parseArgs([]).config)).toBe('wasm');
    expect(modelBackendOf(parseArgs(['--backends', 'cpu,tfjs-wasm,wasm']).config)).toBe('wasm');
    expect(modelBackendOf(parseArgs(['--backends', 'cpu,tfjs-wasm']).config)).toBe('tfjs-wasm');
    expect(modelBackendOf(parseArgs(['--backends', 'webgpu,cpu']).config)).toBe('webgpu');
    expect(modelBackendOf(parseArgs(['--model-backend', 'cpu']).config)).toBe('cpu');
  });

  it('reads every flag, in both --flag value and --flag=value forms', () => {
    const o = parseArgs([
      '--backends',
      'cpu,tfjs-cpu',
      '--variants=lsh-2,full',
      '--lengths',
      '2k,128',
      '--pass',
      'forward',
      '--batch',
      '3',
      '--heads=4',
      '--dhead',
      '16',
      '--repeats',
      '7',
      '--chunk',
      '32',
      '--json',
      'a.json',
      '--markdown',
      'b.md',
      '--svg',
      'charts',
      '--no-baselines',
      '--no-model',
      '--inputs',
      'gaussian',
      '--full-budget',
      '2.5',
    ]);
    expect(o.config.backends).toEqual(['cpu', 'tfjs-cpu']);
    expect(o.config.variants).toEqual(['lsh-2', 'full']);
    expect(o.config.lengths).toEqual([128, 2048]);
    expect(o.config.passes).toEqual(['forward']);
    expect([o.config.batch, o.config.heads, o.config.dHead, o.config.repeats, o.config.chunkLength]).toEqual([3, 4, 16, 7, 32]);
    expect([o.json, o.markdown, o.svg]).toEqual(['a.json', 'b.md', 'charts']);
    expect(o.config.baselines).toBe(false);
    expect(o.config.model).toBe(false);
    expect(o.config.inputs).toBe('gaussian');
    expect(o.config.fullBudgetMs).toBe(2500);
  });

  it("--wasm-threads sets the wasm backend's thread count (absent: the default one thread) and rejects 0 and non-integers", () => {
    expect(parseArgs([]).config.wasmThreads).toBeUndefined();
    expect(parseArgs(['--wasm-threads', '4']).config.wasmThreads).toBe(4);
    expect(parseArgs(['--wasm-threads=2']).config.wasmThreads).toBe(2);
    expect(() => parseArgs(['--wasm-threads', '0'])).toThrow(/--wasm-threads needs an integer >= 1; got '0'/);
    expect(() => parseArgs(['--wasm-threads', 'two'])).toThrow(/--wasm-threads needs an integer >= 1; got 'two'/);
    expect(() => parseArgs(['--wasm-threads'])).toThrow(/--wasm-threads needs a value/);
  });

  it('--pass both measures both passes; --quick shortens lengths and repeats unless given', () => {
    expect(parseArgs(['--pass', 'both']).config.passes).toEqual(['forward', 'backward']);
    const q = parseArgs(['--quick']).config;
    expect(q.lengths.length).toBeLessThan(defaultConfig().lengths.length + 1);
    expect(q.repeats).toBeLessThan(defaultConfig().repeats);
    expect(parseArgs(['--quick', '--lengths', '4k', '--repeats', '9']).config).toMatchObject({ lengths: [4096], repeats: 9 });
  });

  it.each([
    [['--backends', 'cpu,cuda'], 'cuda'],
    [['--variants', 'lsh-3'], 'lsh-3'],
    [['--lengths', '100'], '100'],
    [['--lengths', 'abc'], 'abc'],
    [['--pass', 'sideways'], 'sideways'],
    [['--batch', '0'], '0'],
    [['--heads', '-2'], '-2'],
    [['--repeats', '1.5'], '1.5'],
    [['--frobnicate'], '--frobnicate'],
    [['--inputs', 'uniform'], 'uniform'],
    [['--full-budget', 'soon'], 'soon'],
    [['--json'], '--json'],
  ])('rejects %j with a UsageError naming %s', (argv, bad) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(bad);
  });
});
