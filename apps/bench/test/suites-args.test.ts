import { describe, expect, it } from 'vitest';
import { parseArgs, parseFlags, splitSuite, UsageError } from '../src/args.js';
import { kernelCases, parseKernelsArgs } from '../src/suites/kernels.js';
import { parseReversibleArgs } from '../src/suites/reversible.js';
import { parseThreadsArgs, threadsCases } from '../src/suites/threads.js';
import { parseChunkedArgs } from '../src/suites/chunked.js';
import { parseModelSuiteArgs } from '../src/suites/model.js';
import { parseProfileArgs } from '../src/suites/profile.js';
import { ENWIK8_CONFIG, parseLoadArgs, SMALL_CONFIG } from '../src/suites/load.js';

describe('splitSuite', () => {
  it('defaults to the attention run and leaves the other flags (and the default parse) unchanged', () => {
    const { suite, rest } = splitSuite(['--', '--lengths', '256', '--quick']);
    expect(suite).toBe('attention');
    expect(rest).toEqual(['--lengths', '256', '--quick']);
    expect(parseArgs(rest).config.lengths).toEqual([256]);
  });

  it('takes --suite NAME or --suite=NAME out wherever it is', () => {
    expect(splitSuite(['--quick', '--suite', 'kernels', '--sizes', '8'])).toEqual({ suite: 'kernels', rest: ['--quick', '--sizes', '8'] });
    expect(splitSuite(['--suite=reversible'])).toEqual({ suite: 'reversible', rest: [] });
  });

  it('names an unknown or missing suite', () => {
    expect(() => splitSuite(['--suite', 'kernel'])).toThrow(/unknown suite 'kernel'.*kernels/);
    expect(() => splitSuite(['--suite'])).toThrow(UsageError);
    expect(() => splitSuite(['--suite', '--quick'])).toThrow(/needs a name/);
  });
});

describe('parseFlags', () => {
  const spec = {
    n: 'count',
    k: 'int',
    list: 'ints',
    x: 'number',
    on: 'switch',
    pick: { oneOf: ['a', 'b'] },
    many: { listOf: ['p', 'q'] },
  } as const;

  it('reads every kind, with 1k suffixes and --flag=value', () => {
    expect(parseFlags('t', ['--n', '2k', '--k=0', '--list', '1,4', '--x', '0.5', '--on', '--pick', 'b', '--many', 'q,p,q'], spec)).toEqual({
      n: 2048,
      k: 0,
      list: [1, 4],
      x: 0.5,
      on: true,
      pick: 'b',
      many: ['q', 'p'],
    });
  });

  it('names the flag and the bad value', () => {
    expect(() => parseFlags('t', ['--n', '0'], spec)).toThrow(/--n needs an integer >= 1; got '0'/);
    expect(() => parseFlags('t', ['--k', '-1'], spec)).toThrow(/--k needs an integer >= 0/);
    expect(() => parseFlags('t', ['--list', '1,x'], spec)).toThrow(/--list/);
    expect(() => parseFlags('t', ['--x', 'nan'], spec)).toThrow(/positive number/);
    expect(() => parseFlags('t', ['--on=1'], spec)).toThrow(/takes no value/);
    expect(() => parseFlags('t', ['--pick', 'c'], spec)).toThrow(/unknown value 'c' \(allowed: a, b\)/);
    expect(() => parseFlags('t', ['--n'], spec)).toThrow(/--n needs a value/);
    expect(() => parseFlags('t', ['--bogus'], spec)).toThrow(/--suite t: unknown flag '--bogus' \(accepted: --n, --k/);
  });
});

describe('suite options', () => {
  it('kernels: defaults, --quick sizes, and the cases they give', () => {
    const d = parseKernelsArgs([]);
    expect(d).toMatchObject({ backends: ['cpu', 'wasm', 'tfjs-wasm'], peers: true, sizes: [512, 1024], elements: 1 << 22, repeats: 9 });
    const q = parseKernelsArgs(['--quick', '--backends', 'cpu', '--no-peers', '--sizes', '64']);
    expect(q).toMatchObject({ backends: ['cpu'], peers: false, sizes: [64], repeats: 3, warmup: 1 });
    const cases = kernelCases({ sizes: [8], batched: 2, elements: 10, slots: 128 });
    expect(cases.map((c) => c.name)).toEqual([
      'matmul 8³',
      'matmul 2×(64×64·64×64)',
      'add 10',
      'mul 10',
      'exp 10',
      'attention fwd N 128',
      'attention bwd N 128',
    ]);
    // Work: 2·n³ flops; add reads two and writes one float32 per element, exp reads one; backward twice forward.
    expect(cases.map((c) => c.work)).toEqual([2 * 512, 2 * 2 * 64 ** 3, 120, 120, 80, 2 * 128 * 128 * 128, 4 * 128 * 128 * 128]);
    expect(() => parseKernelsArgs(['--backends', 'gpu'])).toThrow(/unknown value 'gpu'/);
    expect(d.wasmThreads).toBe(1);
    expect(parseKernelsArgs(['--wasm-threads', '3']).wasmThreads).toBe(3);
    expect(() => parseKernelsArgs(['--wasm-threads', '0'])).toThrow(/--wasm-threads needs an integer >= 1; got '0'/);
  });

  it('threads: 2 threads, 16k and 1024 by default, smaller with --quick, --repeats as rounds, the cases they give', () => {
    expect(parseThreadsArgs([])).toMatchObject({ wasmThreads: 2, lengths: [16384], size: 1024, rounds: 5, help: false });
    expect(parseThreadsArgs(['--quick'])).toMatchObject({ wasmThreads: 2, lengths: [4096], size: 512, rounds: 3 });
    expect(parseThreadsArgs(['--wasm-threads', '4', '--lengths', '1k,2k', '--size', '64', '--repeats', '2'])).toMatchObject({
      wasmThreads: 4,
      lengths: [1024, 2048],
      size: 64,
      rounds: 2,
    });
    expect(parseThreadsArgs(['--rounds', '7', '--repeats', '2']).rounds).toBe(7);
    expect(threadsCases({ lengths: [128, 256], size: 8 }).map((c) => c.name)).toEqual([
      'LSH-4 forward, L 128',
      'LSH-4 forward+backward, L 128',
      'LSH-4 forward, L 256',
      'LSH-4 forward+backward, L 256',
      'matmul 8³',
    ]);
    expect(() => parseThreadsArgs(['--wasm-threads', '0'])).toThrow(/--wasm-threads needs an integer >= 1/);
    expect(() => parseThreadsArgs(['--threads', '2'])).toThrow(/--suite threads: unknown flag '--threads'/);
  });

  it('reversible: chunk L/8 and chunk depth 4 by default, the first depth when 4 is not swept', () => {
    expect(parseReversibleArgs(['--length', '1024', '--dmodel', '32'])).toMatchObject({
      length: 1024,
      dModel: 32,
      dFF: 64,
      fHidden: 16,
      chunk: 128,
      chunkDepth: 4,
      repeatDepth: 1,
    });
    expect(parseReversibleArgs(['--quick', '--depths', '2,3'])).toMatchObject({ length: 2048, dModel: 64, chunkDepth: 2, repeatDepth: 24 });
    expect(() => parseReversibleArgs(['--f', 'lsh'])).toThrow(/allowed: mlp, local/);
  });

  it('chunked and model: defaults and checks', () => {
    expect(parseChunkedArgs(['--quick'])).toMatchObject({ length: 1024, hidden: 64, headLength: 512, vocab: 1024, repeats: 2 });
    const m = parseModelSuiteArgs(['--backend', 'cpu', '--lengths', '128', '--depths', '1', '--repeats', '1']);
    expect(m.config).toMatchObject({
      backends: ['cpu'],
      modelBackend: 'cpu',
      modelLengths: [128],
      modelDepths: [1],
      repeats: 1,
      model: true,
      baselines: false,
    });
    expect(parseModelSuiteArgs([]).config).toMatchObject({ backends: ['wasm'], modelBackend: 'wasm' });
    expect(() => parseModelSuiteArgs(['--lengths', '100'])).toThrow(/not a multiple of the model's chunk length 64/);
  });

  it('load: enwik8 by default, a small architecture with --quick, no torch with --no-torch', () => {
    expect(parseLoadArgs([]).config).toBe(ENWIK8_CONFIG);
    const q = parseLoadArgs(['--quick', '--no-torch']);
    expect(q.config).toBe(SMALL_CONFIG);
    expect(q.python).toBeNull();
  });

  it('load --forward: lengths, the backend, wasm threads and the feed-forward chunk', () => {
    expect(parseLoadArgs([])).toMatchObject({ forward: [], forwardBackend: 'wasm', wasmThreads: 2, ffnChunk: 4096 });
    const o = parseLoadArgs(['--forward', '4k,64k', '--forward-backend', 'cpu', '--wasm-threads', '1', '--ffn-chunk', '0']);
    expect(o).toMatchObject({ forward: [4096, 65536], forwardBackend: 'cpu', wasmThreads: 1, ffnChunk: 0 });
    expect(() => parseLoadArgs(['--forward-backend', 'tfjs-wasm'])).toThrow(/unknown value 'tfjs-wasm' \(allowed: wasm, cpu\)/);
    expect(() => parseLoadArgs(['--forward', '0'])).toThrow(/--forward needs an integer >= 1/);
  });

  it('profile: our wasm backend at 4096 by default; the length must be a multiple of the chunk', () => {
    expect(parseProfileArgs([])).toMatchObject({ backend: 'wasm', length: 4096, hashes: 2, forwardOnly: false });
    expect(parseProfileArgs(['--backend', 'tfjs-wasm']).backend).toBe('tfjs-wasm');
    expect(() => parseProfileArgs(['--length', '100'])).toThrow(/multiple of the chunk length 64/);
  });
});
