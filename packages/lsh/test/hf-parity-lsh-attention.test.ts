/**
 * Parity with Hugging Face's `LSHSelfAttention` (fixture lsh-layer; what the fixtures are:
 * docs/verification.md): causal,
 * 2 heads × 16, chunk 8, 8 buckets, 2 hash rounds, seq 64, the recorded rotations. Buckets exactly,
 * the output within 1e-5, the gradients of sum(output · W) within 1e-4 + 1e-3·|want|.
 */
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  add,
  dispose,
  gradients,
  keep,
  layerNorm,
  matmul,
  memory,
  mul,
  reshape,
  sum,
  tensor,
  transpose,
  type HostTensor,
  type Tensor,
} from '@reformer/core';
import { readSafetensorsFile } from '@reformer/core/node';
import { lshAttention } from '../src/lsh-attention.js';

const dir = new URL('../../../../shared/fixtures/hf-reformer/lsh-layer/', import.meta.url);
const nH = 2;
const d = 16;

let io: Map<string, HostTensor>;
let model: Map<string, HostTensor>;
let rotations: HostTensor;

function upload(h: HostTensor): Tensor {
  return tensor(h.values, h.shape, h.dtype);
}

function get(m: Map<string, HostTensor>, name: string): HostTensor {
  const t = m.get(name);
  if (!t) throw new Error(`fixture tensor ${name} missing`);
  return t;
}

/** [B, T, nH·d] → [B, nH, T, d] */
function splitHeads(x: Tensor): Tensor {
  const [B, T] = x.shape as [number, number, number];
  return transpose(reshape(x, [B, T, nH, d]), [0, 2, 1, 3]);
}

/** [B, nH, T, d] → [B, T, nH·d] */
function mergeHeads(x: Tensor): Tensor {
  const [B, , T] = x.shape as [number, number, number, number];
  return reshape(transpose(x, [0, 2, 1, 3]), [B, T, nH * d]);
}

function maxAbsDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let m = 0;
  for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs(got[i]! - want[i]!));
  return m;
}

/** Worst |got − want| − (atol + rtol·|want|); ≤ 0 means within tolerance. */
function worstExcess(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): number {
  let m = -Infinity;
  for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs(got[i]! - want[i]!) - (atol + rtol * Math.abs(want[i]!)));
  return m;
}

beforeAll(async () => {
  io = (await readSafetensorsFile(fileURLToPath(new URL('io.safetensors', dir)))).tensors;
  model = (await readSafetensorsFile(fileURLToPath(new URL('model.safetensors', dir)))).tensors;
  rotations = get((await readSafetensorsFile(fileURLToPath(new URL('rotations.safetensors', dir)))).tensors, 'layers.0.rotations');
});

describe('fixture lsh-layer (Hugging Face LSHSelfAttention)', () => {
  it('matches buckets exactly, the output within 1e-5 and the gradients within 1e-4 + 1e-3 rel', async () => {
    const hidden = upload(get(io, 'hidden_states'));
    const wqk = upload(get(model, 'query_key.weight'));
    const wv = upload(get(model, 'value.weight'));
    const W = upload(get(io, 'W'));
    const rot = upload(rotations);
    const live = memory().liveTensors;
    const kept: Tensor[] = [];
    const { value, grads } = gradients(() => {
      const qk = splitHeads(matmul(hidden, wqk, false, true));
      const v = splitHeads(matmul(hidden, wv, false, true));
      const r = lshAttention(qk, v, { chunkLength: 8, nBuckets: 8, nHashes: 2, causal: true, rotations: rot });
      const output = mergeHeads(r.output);
      kept.push(keep(r.buckets), keep(output));
      return sum(mul(output, W));
    }, [hidden, wqk, wv]);
    const [buckets, output] = kept as [Tensor, Tensor];
    expect(buckets.dtype).toBe('int32');
    expect(buckets.shape).toEqual([1, 2, 2, 64]);
    expect(Array.from(await buckets.data())).toEqual(Array.from(get(io, 'buckets').values));
    const outErr = maxAbsDiff(await output.data(), get(io, 'output').values);
    const objErr = Math.abs((await value.item()) - get(io, 'objective').values[0]!);
    const gH = await grads[0]!.data();
    const gQK = await grads[1]!.data();
    const gV = await grads[2]!.data();
    const wantH = get(io, 'grad.hidden_states').values;
    const wantQK = get(io, 'grad.query_key.weight').values;
    const wantV = get(io, 'grad.value.weight').values;
    const errs = {
      output: outErr,
      objective: objErr,
      'grad.hidden_states': maxAbsDiff(gH, wantH),
      'grad.query_key.weight': maxAbsDiff(gQK, wantQK),
      'grad.value.weight': maxAbsDiff(gV, wantV),
    };
    console.log('lsh-layer parity (max abs):', JSON.stringify(errs));
    expect(outErr).toBeLessThan(1e-5);
    expect(worstExcess(gH, wantH, 1e-4, 1e-3)).toBeLessThanOrEqual(0);
    expect(worstExcess(gQK, wantQK, 1e-4, 1e-3)).toBeLessThanOrEqual(0);
    expect(worstExcess(gV, wantV, 1e-4, 1e-3)).toBeLessThanOrEqual(0);
    expect(objErr).toBeLessThan(1e-4);
    dispose([value, grads, kept]);
    expect(memory().liveTensors).toBe(live);
    dispose([hidden, wqk, wv, W, rot]);
  });
});

describe('fixture tiny-lsh-causal (Hugging Face ReformerModelWithLMHead): the attention of each layer', () => {
  it('reproduces both layers’ buckets exactly and their attention outputs within 1e-5 (batch 2, 1 round)', async () => {
    const tiny = new URL('../../../../shared/fixtures/hf-reformer/tiny-lsh-causal/', import.meta.url);
    const tio = (await readSafetensorsFile(fileURLToPath(new URL('io.safetensors', tiny)))).tensors;
    const tmodel = (await readSafetensorsFile(fileURLToPath(new URL('model.safetensors', tiny)))).tensors;
    const trot = (await readSafetensorsFile(fileURLToPath(new URL('rotations.safetensors', tiny)))).tensors;
    const errors: number[] = [];
    for (const i of [0, 1]) {
      const p = (name: string) => upload(get(tmodel, `reformer.encoder.layers.${i}.attention.${name}`));
      // Y1 = X1 + dense(LSH(LayerNorm(X2))): layer 0 gets X1 = X2 = embeddings.
      const x1 = upload(get(tio, i === 0 ? 'embeddings' : `layers.${i - 1}.attn_output`));
      const x2 = upload(get(tio, i === 0 ? 'embeddings' : `layers.${i - 1}.hidden_states`));
      const h = layerNorm(x2, p('layer_norm.weight'), p('layer_norm.bias'), 1e-12);
      const qk = splitHeads(matmul(h, p('self_attention.query_key.weight'), false, true));
      const v = splitHeads(matmul(h, p('self_attention.value.weight'), false, true));
      const r = lshAttention(qk, v, {
        chunkLength: 8,
        nBuckets: 8,
        nHashes: 1,
        causal: true,
        rotations: upload(get(trot, `layers.${i}.rotations`)),
      });
      expect(Array.from(await r.buckets.data())).toEqual(Array.from(get(tio, `layers.${i}.buckets`).values));
      const y1 = add(x1, matmul(mergeHeads(r.output), p('output.dense.weight'), false, true));
      errors.push(maxAbsDiff(await y1.data(), get(tio, `layers.${i}.attn_output`).values));
      dispose([x1, x2, h, qk, v, r, y1]);
    }
    console.log('tiny-lsh-causal attention parity (max abs, layers 0 and 1):', JSON.stringify(errors));
    expect(Math.max(...errors)).toBeLessThan(1e-5);
  });
});
