/** Config errors quote the bad value with core's `formatValue`: NaN and Infinity as such, never `null`. */
import { describe, expect, it } from 'vitest';
import { ReformerConfigError, resolveConfig } from '../src/config.js';
import { resolveHeadConfig } from '../src/heads/config.js';

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ReformerConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ReformerConfigError');
}

describe('config messages print NaN and Infinity', () => {
  it('resolveConfig', () => {
    const m = message(() => resolveConfig({ hidden_dropout_prob: NaN, hidden_size: Infinity }));
    expect(m).toMatch(/hidden_dropout_prob must be .*, got NaN/);
    expect(m).toMatch(/hidden_size must be .*, got Infinity/);
    expect(m).not.toContain('null');
  });

  it('resolveHeadConfig', () => {
    const m = message(() => resolveHeadConfig({ classifier_dropout: NaN }, 'ReformerForSequenceClassification'));
    expect(m).toContain('got NaN');
    expect(m).not.toContain('got null');
  });
});
