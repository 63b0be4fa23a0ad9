/** The hand-written ONNX serialiser, checked by onnxruntime itself against a brute-force attention. */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ProtoWriter, attentionGraph, serializeOnnxModel } from '../src/baselines/onnx-proto.js';
import { onnxBaseline, toHeadsLast } from '../src/baselines/onnx.js';
import { makeInputs } from '../src/inputs.js';

const ort = createRequire(import.meta.url)('onnxruntime-node') as typeof import('onnxruntime-node');

function attention(q: Float32Array, k: Float32Array, v: Float32Array, [B, H, L, d]: number[], scale: number): Float64Array {
  const out = new Float64Array(B! * H! * L! * d!);
  for (let bh = 0; bh < B! * H!; bh++)
    for (let i = 0; i < L!; i++) {
      const o = bh * L! * d!;
      const s = Array.from({ length: L! }, (_, j) => {
        let x = 0;
        for (let c = 0; c < d!; c++) x += q[o + i * d! + c]! * k[o + j * d! + c]!;
        return x * scale;
      });
      const m = Math.max(...s);
      const e = s.map((x) => Math.exp(x - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j < L!; j++)
        for (let c = 0; c < d!; c++) out[o + i * d! + c] = out[o + i * d! + c]! + (e[j]! / z) * v[o + j * d! + c]!;
    }
  return out;
}

describe('ONNX protobuf writer', () => {
  it('writes varints as protobuf does (7 bits per byte, low group first)', () => {
    for (const n of [0, 1, 127, 128, 300, 2 ** 31 + 5, 2 ** 40]) {
      const bytes = new ProtoWriter().varint(n).finish();
      let back = 0;
      bytes.forEach((b, i) => {
        back += (b & 0x7f) * 2 ** (7 * i);
        expect((b & 0x80) !== 0).toBe(i < bytes.length - 1);
      });
      expect(back).toBe(n);
    }
    expect(() => new ProtoWriter().varint(-1)).toThrow(RangeError);
  });

  it.each(['mha', 'matmul'] as const)('the %s graph loads in onnxruntime and computes softmax(q kᵀ) v', async (form) => {
    const [B, H, L, d] = [2, 2, 16, 4];
    const h = makeInputs(B, H, L, d, { seed: 3, kind: 'gaussian', chunkLength: 4 });
    const session = await ort.InferenceSession.create(serializeOnnxModel(attentionGraph(form, B, H, L, d, 1)));
    const lay = (x: Float32Array) => (form === 'mha' ? toHeadsLast(x, B, H, L, d) : x);
    const dims = form === 'mha' ? [B, L, H * d] : [B, H, L, d];
    const res = await session.run({
      q: new ort.Tensor('float32', lay(h.qk), dims),
      k: new ort.Tensor('float32', lay(h.keys), dims),
      v: new ort.Tensor('float32', lay(h.v), dims),
    });
    const got = form === 'mha' ? toHeadsLast(res.out!.data as Float32Array, B, H, L, d, true) : (res.out!.data as Float32Array);
    const want = attention(h.qk, h.keys, h.v, [B, H, L, d], 1);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5);
    await session.release();
  });

  it('the baseline starts, runs and reads back the output in our layout', async () => {
    const b = onnxBaseline(1);
    expect(await b.start()).toMatch(/onnxruntime/);
    const h = makeInputs(1, 2, 32, 4, { seed: 4, kind: 'clustered', chunkLength: 8 });
    const p = await b.prepare(h);
    await p.run('forward');
    const got = await p.output();
    const want = attention(h.qk, h.keys, h.v, h.shape, 1);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5);
    await expect(p.run('backward')).rejects.toThrow(/inference only/);
    p.dispose();
  });
});
