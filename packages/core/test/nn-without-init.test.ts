import { describe, expect, it } from 'vitest';
import { dispose } from '../src/engine.js';
import { Embedding, Linear, withoutInit } from '../src/nn/index.js';
import { nextSeed, setGlobalSeed } from '../src/random.js';

describe('withoutInit (build modules whose weights a checkpoint will overwrite)', () => {
  it('gives zero-filled parameters instead of random draws', () => {
    const [lin, emb] = withoutInit(
      () => [new Linear({ inFeatures: 3, outFeatures: 2 }), new Embedding({ numEmbeddings: 4, dim: 3 })] as const,
    );
    for (const p of [...lin.parameters(), ...emb.parameters()]) expect(Array.from(p.dataSync()).every((v) => v === 0)).toBe(true);
    const random = new Linear({ inFeatures: 3, outFeatures: 2, seed: 1 });
    expect(Array.from(random.weight.dataSync()).some((v) => v !== 0)).toBe(true);
    dispose([...lin.parameters(), ...emb.parameters(), ...random.parameters()]);
  });

  it('draws the same seeds, so the global seed stream afterwards is unchanged', () => {
    setGlobalSeed(5);
    const a = new Linear({ inFeatures: 3, outFeatures: 2, init: { std: 0.02 } });
    const afterInit = nextSeed();
    setGlobalSeed(5);
    const b = withoutInit(() => new Linear({ inFeatures: 3, outFeatures: 2, init: { std: 0.02 } }));
    expect(nextSeed()).toBe(afterInit);
    dispose([...a.parameters(), ...b.parameters()]);
  });

  it('initialises again after the scope, also when the scope threw', () => {
    expect(() =>
      withoutInit(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    const after = new Linear({ inFeatures: 3, outFeatures: 2, seed: 2 });
    expect(Array.from(after.weight.dataSync()).some((v) => v !== 0)).toBe(true);
    dispose(after.parameters());
  });
});
