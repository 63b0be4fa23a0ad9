import { describe, expect, it } from 'vitest';
import {
  CheckpointError,
  ReformerForMaskedLM,
  ReformerModelWithLMHead,
  expectArchitecture,
  loadModel,
  serializeModel,
} from '../src/index.js';
import { tinyConfig } from './helpers.js';

describe('expectArchitecture', () => {
  it('returns a loaded model typed as the class it is, and names both classes otherwise', async () => {
    const lm = new ReformerModelWithLMHead(tinyConfig(), { seed: 1 });
    const loaded = loadModel(await serializeModel(lm));
    const typed: ReformerModelWithLMHead = expectArchitecture(loaded, ReformerModelWithLMHead);
    expect(typed).toBe(loaded);
    expect(() => expectArchitecture(loaded, ReformerForMaskedLM)).toThrow(CheckpointError);
    expect(() => expectArchitecture(loaded, ReformerForMaskedLM)).toThrow(
      /expected a ReformerForMaskedLM, but the checkpoint holds a ReformerModelWithLMHead/,
    );
    lm.dispose();
    loaded.dispose();
  });
});
