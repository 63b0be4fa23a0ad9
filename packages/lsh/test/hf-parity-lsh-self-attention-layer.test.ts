import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { gradients, mul, sum, tensor, type Tensor } from '@reformer/core';
import { readSafetensorsFile, type HostTensor } from '@reformer/core/node';
import { LSHSelfAttention } from '../src/layers/index.js';

// Hugging Face's LSHSelfAttention module (fixture lsh-layer, docs/verification.md: causal, 2 heads ×
// 16, hidden 32, chunk 8, one chunk before, none after, 8 buckets, 2 hash rounds, seq 64, batch 1), with the rotations it drew.
const DIR = new URL('../../../../shared/fixtures/hf-reformer/lsh-layer/', import.meta.url);

let io: Map<string, HostTensor>;
let weights: Map<string, HostTensor>;
let rotations: HostTensor;

function get(m: Map<string, HostTensor>, name: string): HostTensor {
  const t = m.get(name);
  if (!t) throw new Error(`fixture tensor ${name} missing`);
  return t;
}

/** |a − e| ≤ atol + rtol·|e| everywhere; returns the largest |a − e|. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number, what: string): number {
  expect(actual.length, `${what} length`).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i]! - expected[i]!);
    if (!(diff <= atol + rtol * Math.abs(expected[i]!))) {
      throw new Error(`${what}[${i}]: got ${actual[i]}, expected ${expected[i]} (atol ${atol}, rtol ${rtol})`);
    }
    worst = Math.max(worst, diff);
  }
  return worst;
}

function makeLayer(): LSHSelfAttention {
  const layer = new LSHSelfAttention({
    hiddenSize: 32,
    numHeads: 2,
    headSize: 16,
    causal: true,
    chunkLength: 8,
    chunksBefore: 1,
    chunksAfter: 0,
    nBuckets: 8,
    nHashes: 2,
    seed: 1,
  });
  // HF names below `attention.self_attention.` → ours below `self_attention.`; the fixture has no output.dense.
  const result = layer.loadStateDict(
    new Map([
      ['self_attention.query_key.weight', get(weights, 'query_key.weight')],
      ['self_attention.value.weight', get(weights, 'value.weight')],
    ]),
    { strict: false },
  );
  expect(result.missing).toEqual(['output.dense.weight']);
  return layer;
}

beforeAll(async () => {
  io = (await readSafetensorsFile(fileURLToPath(new URL('io.safetensors', DIR)))).tensors;
  weights = (await readSafetensorsFile(fileURLToPath(new URL('model.safetensors', DIR)))).tensors;
  rotations = get((await readSafetensorsFile(fileURLToPath(new URL('rotations.safetensors', DIR)))).tensors, 'layers.0.rotations');
});

describe('LSHSelfAttention against Hugging Face (fixtures/hf-reformer/lsh-layer)', () => {
  it('buckets exactly and the attention output (before output.dense) within 1e-5', async () => {
    const layer = makeLayer();
    expect(rotations.shape).toEqual([2, 16, 2, 4]);
    const h = get(io, 'hidden_states');
    const hidden = tensor(h.values, h.shape);
    const rot = tensor(rotations.values, rotations.shape);
    const out = layer.attend(hidden, { rotations: rot });
    expect(out.shape).toEqual([1, 64, 32]);
    const worst = expectClose(await out.data(), get(io, 'output').values, 1e-5, 0, 'output');
    expect(worst).toBeLessThan(1e-5);
    const buckets = get(io, 'buckets');
    expect(layer.lastBuckets!.shape).toEqual(buckets.shape);
    expect(Array.from(await layer.lastBuckets!.data())).toEqual(Array.from(buckets.values));
    // The full forward is output.dense of that.
    const y = layer.forward(hidden, { rotations: rot });
    expect(y.shape).toEqual([1, 64, 32]);
    for (const t of [hidden, rot, out, y]) t.dispose();
    layer.dispose();
  });

  it('other rotations change the output (the comparison above is not vacuous)', async () => {
    const layer = makeLayer();
    const h = get(io, 'hidden_states');
    const hidden = tensor(h.values, h.shape);
    const out = await layer.attend(hidden).data();
    const expected = get(io, 'output').values;
    expect(Math.max(...Array.from(out, (v, i) => Math.abs(v - expected[i]!)))).toBeGreaterThan(1e-2);
    hidden.dispose();
    layer.dispose();
  });

  it('gradients of sum(output · W) w.r.t. the input and both weights within 1e-4 + 1e-3 relative', async () => {
    const layer = makeLayer();
    const h = get(io, 'hidden_states');
    const w = get(io, 'W');
    const hidden = tensor(h.values, h.shape);
    const W = tensor(w.values, w.shape);
    const rot = tensor(rotations.values, rotations.shape);
    const qk = layer.self_attention.query_key.weight;
    const v = layer.self_attention.value.weight;
    const { value, grads } = gradients(() => sum(mul(layer.attend(hidden, { rotations: rot }), W)), [hidden, qk, v]);
    expectClose([await value.item()], get(io, 'objective').values, 1e-4, 1e-5, 'objective');
    const names = ['grad.hidden_states', 'grad.query_key.weight', 'grad.value.weight'];
    for (const [i, name] of names.entries()) {
      const g = grads[i] as Tensor;
      expect(g.shape).toEqual(get(io, name).shape);
      expectClose(await g.data(), get(io, name).values, 1e-4, 1e-3, name);
    }
    for (const t of [hidden, W, rot, value, ...grads]) t.dispose();
    layer.dispose();
  });

  it('replaying the fixture buckets instead of the rotations gives the same output', async () => {
    const layer = makeLayer();
    const h = get(io, 'hidden_states');
    const b = get(io, 'buckets');
    const hidden = tensor(h.values, h.shape);
    const buckets = tensor(b.values, b.shape, 'int32');
    const out = layer.attend(hidden, { buckets });
    expectClose(await out.data(), get(io, 'output').values, 1e-5, 0, 'output (replayed buckets)');
    for (const t of [hidden, buckets, out]) t.dispose();
    layer.dispose();
  });
});
