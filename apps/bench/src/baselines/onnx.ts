/**
 * Node-only peer baseline: onnxruntime-node's attention on CPU. The model is built in code
 * (`onnx-proto.ts`): onnxruntime's fused `com.microsoft.MultiHeadAttention` operator, or, if this
 * onnxruntime cannot create it, the plain `MatMul → Softmax → MatMul` graph. One intra-op thread, like
 * our CPU backend and tfjs-wasm in Node. Inference only: no backward pass.
 *
 * @module
 */
import { createRequire } from 'node:module';
import type { HostInputs } from '../inputs.js';
import type { Baseline, PreparedBaseline } from './baseline.js';
import { attentionGraph, serializeOnnxModel } from './onnx-proto.js';

type Ort = typeof import('onnxruntime-node');

/** `[B, H, L, d]` ↔ `[B, L, H·d]`. */
export function toHeadsLast(x: Float32Array, B: number, H: number, L: number, d: number, inverse = false): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let l = 0; l < L; l++) {
        const bhld = ((b * H + h) * L + l) * d;
        const blhd = ((b * L + l) * H + h) * d;
        for (let j = 0; j < d; j++) {
          if (inverse) out[bhld + j] = x[blhd + j]!;
          else out[blhd + j] = x[bhld + j]!;
        }
      }
  return out;
}

/** The onnxruntime-node baseline (`form` chooses the graph; default: the fused operator, falling back to MatMul). */
export function onnxBaseline(threads = 1): Baseline {
  let ort: Ort | undefined;
  let form: 'mha' | 'matmul' = 'mha';
  const baseline: Baseline = {
    name: 'ort-attention',
    backend: 'onnxruntime-cpu',
    passes: ['forward'],
    async start() {
      process.env.ONNXRUNTIME_NODE_INSTALL ??= 'skip';
      ort = createRequire(import.meta.url)('onnxruntime-node') as Ort;
      // Probe which graph this onnxruntime accepts on a tiny shape.
      for (const f of ['mha', 'matmul'] as const) {
        try {
          const s = await ort.InferenceSession.create(serializeOnnxModel(attentionGraph(f, 1, 1, 4, 2, 1)), { intraOpNumThreads: threads });
          await s.release();
          form = f;
          break;
        } catch (err) {
          if (f === 'matmul') throw err;
        }
      }
      baseline.name = form === 'mha' ? 'ort-mha' : 'ort-matmul';
      const version = (ort as unknown as { env?: { versions?: { node?: string } } }).env?.versions?.node ?? '';
      return `onnxruntime-node ${version} CPU, ${threads} thread(s), ${form === 'mha' ? 'com.microsoft.MultiHeadAttention' : 'MatMul/Softmax/MatMul'}`;
    },
    async prepare(inputs: HostInputs): Promise<PreparedBaseline> {
      if (!ort) throw new Error('onnx baseline: start() first');
      const o = ort;
      const [B, H, L, d] = inputs.shape;
      const session = await o.InferenceSession.create(serializeOnnxModel(attentionGraph(form, B, H, L, d, 1)), {
        intraOpNumThreads: threads,
      });
      const layout = (x: Float32Array) => (form === 'mha' ? toHeadsLast(x, B, H, L, d) : x);
      const dims = form === 'mha' ? [B, L, H * d] : [B, H, L, d];
      const feeds = {
        q: new o.Tensor('float32', layout(inputs.qk), dims),
        k: new o.Tensor('float32', layout(inputs.keys), dims),
        v: new o.Tensor('float32', layout(inputs.v), dims),
      };
      const forward = async () => (await session.run(feeds)).out!;
      return {
        async run(pass) {
          if (pass !== 'forward') throw new Error('onnxruntime baseline: inference only (no backward pass)');
          const out = await forward();
          out.dispose();
        },
        async output() {
          const out = await forward();
          const data = out.data as Float32Array;
          const result = form === 'mha' ? toHeadsLast(data, B, H, L, d, true) : Float32Array.from(data);
          out.dispose();
          return result;
        },
        async peakBytes() {
          return null;
        },
        dispose() {
          void session.release();
        },
      };
    },
  };
  return baseline;
}
