import { describe, expect, it } from 'vitest';
import {
  Dropout,
  Embedding,
  gradients,
  type HostTensorLike,
  InvalidArgumentError,
  LayerNorm,
  Linear,
  mean,
  memory,
  Module,
  ModuleList,
  randomNormal,
  square,
  StateDictError,
  type Tensor,
  tensor,
  tidy,
} from '../src/index.js';

// A small two-layer toy model, named like Hugging Face's Reformer.
class FeedForward extends Module {
  readonly layerNorm: LayerNorm;
  readonly dense: Linear;
  readonly dropout: Dropout;
  constructor(d: number, seed: number) {
    super();
    this.layerNorm = this.addModule('layer_norm', new LayerNorm({ dim: d }));
    this.dense = this.addModule('dense', new Linear({ inFeatures: d, outFeatures: d, seed }));
    this.dropout = this.addModule('dropout', new Dropout({ rate: 0.1 }));
  }
  forward(x: Tensor): Tensor {
    return tidy(() => this.dropout.forward(this.dense.forward(this.layerNorm.forward(x))));
  }
}

class Block extends Module {
  readonly feedForward: FeedForward;
  constructor(d: number, seed: number) {
    super();
    this.feedForward = this.addModule('feed_forward', new FeedForward(d, seed));
  }
}

class Toy extends Module {
  readonly embeddings: Embedding;
  readonly layers: ModuleList<Block>;
  readonly head: Linear;
  readonly scale: ReturnType<Module['parameters']>[number];
  constructor(seed = 1, vocab = 7, d = 4) {
    super();
    this.embeddings = this.addModule('embeddings', new Embedding({ numEmbeddings: vocab, dim: d, seed }));
    this.layers = this.addModule('layers', new ModuleList([new Block(d, seed + 1), new Block(d, seed + 2)]));
    this.head = this.addModule('head', new Linear({ inFeatures: d, outFeatures: vocab, bias: false, seed: seed + 3 }));
    // An own parameter registered after the submodules: listed first, as PyTorch does.
    this.scale = this.addParameter('scale', randomNormal([d], { seed }));
  }
  forward(ids: Tensor): Tensor {
    return tidy(() => {
      let h = this.embeddings.forward(ids);
      for (const block of this.layers) h = block.feedForward.forward(h);
      return this.head.forward(h);
    });
  }
}

const EXPECTED_NAMES = [
  'scale',
  'embeddings.weight',
  'layers.0.feed_forward.layer_norm.weight',
  'layers.0.feed_forward.layer_norm.bias',
  'layers.0.feed_forward.dense.weight',
  'layers.0.feed_forward.dense.bias',
  'layers.1.feed_forward.layer_norm.weight',
  'layers.1.feed_forward.layer_norm.bias',
  'layers.1.feed_forward.dense.weight',
  'layers.1.feed_forward.dense.bias',
  'head.weight',
];

function allModules(m: Module): Module[] {
  return [m, ...[...m.namedChildren().values()].flatMap(allModules)];
}

async function hostDict(m: Module): Promise<Map<string, HostTensorLike>> {
  const out = new Map<string, HostTensorLike>();
  for (const [name, t] of m.stateDict()) out.set(name, { shape: [...t.shape], values: await t.data() });
  return out;
}

describe('Module', () => {
  it('names parameters with stable dotted paths in registration order', () => {
    const model = new Toy();
    const named = model.namedParameters();
    expect([...named.keys()]).toEqual(EXPECTED_NAMES);
    for (const [name, v] of named) expect(v.name).toBe(name);
    expect(model.parameters()).toEqual([...named.values()]);
    expect([...model.stateDict().keys()]).toEqual(EXPECTED_NAMES);
    const d = 4;
    const vocab = 7;
    expect(model.numParameters()).toBe(d + vocab * d + 2 * (2 * d + d * d + d) + vocab * d);
    expect(named.get('layers.1.feed_forward.dense.weight')!.shape).toEqual([d, d]);
    expect(model.layers.length).toBe(2);
    expect(model.layers.get(-1)).toBe(model.layers.get(1));
    expect(() => model.layers.get(2)).toThrow(InvalidArgumentError);
    model.dispose();
  });

  it('propagates train() and eval() to every submodule', () => {
    const model = new Toy();
    const modules = allModules(model);
    expect(modules.length).toBe(1 + 1 + 1 + 2 * (1 + 1 + 3) + 1);
    expect(modules.every((m) => m.training)).toBe(true);
    expect(model.eval()).toBe(model);
    expect(modules.every((m) => !m.training)).toBe(true);
    model.layers.get(0).train();
    expect(allModules(model.layers.get(0)).every((m) => m.training)).toBe(true);
    expect(allModules(model.layers.get(1)).every((m) => !m.training)).toBe(true);
    model.train();
    expect(modules.every((m) => m.training)).toBe(true);
    model.dispose();
  });

  it('rejects duplicate and dotted names, and consumes the init tensor', () => {
    class Bad extends Module {
      constructor(mode: 'dup' | 'dot' | 'ok') {
        super();
        const init = tensor([1, 2]);
        this.addParameter('w', init);
        expect(init.isDisposed).toBe(true);
        if (mode === 'dup') this.addModule('w', new LayerNorm({ dim: 2 }));
        if (mode === 'dot') this.addParameter('a.b', tensor([1]));
      }
    }
    expect(() => new Bad('dup')).toThrow(InvalidArgumentError);
    expect(() => new Bad('dot')).toThrow(InvalidArgumentError);
    new Bad('ok').dispose();
  });

  it('round-trips a state dict, as tensors and as host values', async () => {
    const a = new Toy(10);
    const b = new Toy(20);
    const c = new Toy(30);
    const ids = tensor(new Int32Array([0, 3, 6, 2, 5, 1]), [2, 3]);
    a.eval();
    b.eval();
    c.eval();
    const before = await a.forward(ids).data();
    const bOld = await b.forward(ids).data();
    expect(Array.from(bOld)).not.toEqual(Array.from(before));

    const result = b.loadStateDict(a.stateDict());
    expect(result).toEqual({ missing: [], unexpected: [] });
    c.loadStateDict(await hostDict(a));
    for (const [name, t] of a.stateDict()) {
      const want = Array.from(await t.data());
      expect(Array.from(await b.stateDict().get(name)!.data()), name).toEqual(want);
      expect(Array.from(await c.stateDict().get(name)!.data()), name).toEqual(want);
    }
    expect(Array.from(await b.forward(ids).data())).toEqual(Array.from(before));
    expect(Array.from(await c.forward(ids).data())).toEqual(Array.from(before));
    // b shares a's storage; disposing a must not break b.
    a.dispose();
    expect(Array.from(await b.forward(ids).data())).toEqual(Array.from(before));
    b.dispose();
    c.dispose();
    ids.dispose();
  });

  it('reports missing, unexpected and mismatched names together and assigns nothing', async () => {
    const model = new Toy(1);
    const source = new Toy(2);
    const dict = await hostDict(source);
    dict.delete('layers.0.feed_forward.dense.bias');
    dict.set('layers.2.feed_forward.dense.weight', { shape: [4, 4], values: new Float32Array(16) });
    dict.set('head.weight', { shape: [4, 7], values: new Float32Array(28) });
    const headBefore = Array.from(await model.head.weight.data());
    const embBefore = Array.from(await model.embeddings.weight.data());

    let caught: unknown;
    try {
      model.loadStateDict(dict);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(StateDictError);
    const err = caught as StateDictError;
    expect(err.name).toBe('StateDictError');
    expect(err.missing).toEqual(['layers.0.feed_forward.dense.bias']);
    expect(err.unexpected).toEqual(['layers.2.feed_forward.dense.weight']);
    expect(err.mismatched.map((m) => m.name)).toEqual(['head.weight']);
    expect(err.mismatched[0]!.reason).toContain('[4, 7]');
    expect(err.mismatched[0]!.reason).toContain('[7, 4]');
    for (const name of ['layers.0.feed_forward.dense.bias', 'layers.2.feed_forward.dense.weight', 'head.weight']) {
      expect(err.message).toContain(name);
    }
    // Nothing was assigned, not even the entries that fit.
    expect(Array.from(await model.head.weight.data())).toEqual(headBefore);
    expect(Array.from(await model.embeddings.weight.data())).toEqual(embBefore);

    // Non-strict: missing and unexpected are returned; a shape mismatch still throws.
    expect(() => model.loadStateDict(dict, { strict: false })).toThrow(StateDictError);
    dict.delete('head.weight');
    const result = model.loadStateDict(dict, { strict: false });
    expect(result.missing).toEqual(['layers.0.feed_forward.dense.bias', 'head.weight']);
    expect(result.unexpected).toEqual(['layers.2.feed_forward.dense.weight']);
    expect(Array.from(await model.embeddings.weight.data())).toEqual(Array.from(await source.embeddings.weight.data()));
    expect(Array.from(await model.head.weight.data())).toEqual(headBefore);

    // dtype and value-count problems are mismatches too.
    const bad = await hostDict(source);
    bad.set('scale', { shape: [4], values: new Int32Array(4) });
    bad.set('head.weight', { shape: [7, 4], values: new Float32Array(3) });
    try {
      model.loadStateDict(bad);
      expect.unreachable();
    } catch (e) {
      expect((e as StateDictError).mismatched.map((m) => m.name)).toEqual(['scale', 'head.weight']);
    }
    model.dispose();
    source.dispose();
  });

  it('does not leak tensors over forward and gradients, and dispose() frees every parameter', () => {
    const model = new Toy(5);
    const ids = tensor(new Int32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    const before = memory().liveTensors;
    const beforeBytes = memory().liveBytes;
    for (let i = 0; i < 3; i++) {
      tidy(() => {
        const { value, grads } = gradients(() => mean(square(model.forward(ids))), model.parameters());
        expect(grads.length).toBe(EXPECTED_NAMES.length);
        return value;
      }).dispose();
    }
    expect(memory().liveTensors).toBe(before);
    expect(memory().liveBytes).toBe(beforeBytes);
    const params = model.parameters();
    model.dispose();
    expect(params.every((p) => p.isDisposed)).toBe(true);
    expect(memory().liveTensors).toBe(before - params.length);
    ids.dispose();
  });
});
