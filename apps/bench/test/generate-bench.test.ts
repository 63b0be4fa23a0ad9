import { describe, expect, it } from 'vitest';
import { generateTable, parseGenerateArgs } from '../src/node/generate-text.js';

describe('reformer-bench generate: flags and table', () => {
  it('parses backends, contexts and the token count, with defaults', () => {
    expect(parseGenerateArgs([])).toEqual({ backends: ['cpu', 'wasm', 'tfjs-wasm', 'webgpu'], contexts: [1024, 16384], newTokens: 32 });
    expect(parseGenerateArgs(['--backends', 'cpu', '--contexts', '512,2048', '--new-tokens', '8'])).toEqual({
      backends: ['cpu'],
      contexts: [512, 2048],
      newTokens: 8,
    });
  });

  it('rejects unknown backends, non-integers and unknown flags', () => {
    expect(() => parseGenerateArgs(['--backends', 'gpu'])).toThrow(/unknown backend 'gpu'/);
    expect(() => parseGenerateArgs(['--contexts', '1e3'])).toThrow(/'1e3' is not a positive integer/);
    expect(() => parseGenerateArgs(['--bogus', '1'])).toThrow(/unknown flag --bogus/);
    expect(() => parseGenerateArgs(['--contexts'])).toThrow(/needs a value/);
  });

  it('writes measured rows and failed rows', () => {
    const table = generateTable(
      [
        { backend: 'cpu', context: 1024, prefillMs: 1234.4, tokensPerSecond: 12.34 },
        { backend: 'webgpu', context: 16384, error: 'too large' },
      ],
      32,
    );
    expect(table.split('\n')).toEqual([
      '| backend | context (tokens) | prefill + first token (ms) | tokens/s after the first (32 new, cache) |',
      '| --- | ---: | ---: | ---: |',
      '| cpu | 1024 | 1234 | 12.3 |',
      '| webgpu | 16384 | — | too large |',
    ]);
  });
});
