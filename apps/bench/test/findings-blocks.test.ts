import { describe, expect, it } from 'vitest';
import { findingsBlocks } from '../src/report/findings-blocks.js';

describe('findingsBlocks (the browser page renders the findings instead of showing markdown)', () => {
  it('turns bold titles into paragraphs and bullet runs into lists, keeping every character of the text', () => {
    const text = [
      '**Where LSH starts beating full attention** (smallest measured length):',
      '',
      '- cpu, forward: lsh-4: from 2K',
      '- cpu, forward+backward: lsh-4: not within 4K',
      '',
      '**Peak memory** (×L ratio):',
      '',
      '- cpu, forward: full 1 → 16 MiB (×16 for L ×4)',
    ].join('\n');
    expect(findingsBlocks(text)).toEqual([
      { kind: 'paragraph', strong: 'Where LSH starts beating full attention', rest: '(smallest measured length):' },
      { kind: 'list', items: ['cpu, forward: lsh-4: from 2K', 'cpu, forward+backward: lsh-4: not within 4K'] },
      { kind: 'paragraph', strong: 'Peak memory', rest: '(×L ratio):' },
      { kind: 'list', items: ['cpu, forward: full 1 → 16 MiB (×16 for L ×4)'] },
    ]);
    // No markdown syntax is left for the page to show.
    expect(JSON.stringify(findingsBlocks(text))).not.toContain('**');
  });

  it('keeps a line without a bold title as plain text', () => {
    expect(findingsBlocks('plain line')).toEqual([{ kind: 'paragraph', strong: '', rest: 'plain line' }]);
  });
});
