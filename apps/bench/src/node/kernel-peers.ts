/**
 * Node-only: the peers of `--suite kernels` — the same ops written the way a user of each library would
 * (`tf.matMul`, `tf.add`, … on tfjs's wasm backend (XNNPACK, one thread) and cpu backend; an ONNX graph of
 * one node in onnxruntime-node, one intra-op thread). None has a fused chunked attention.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { serializeOnnxModel, type OnnxModel } from '../baselines/onnx-proto.js';
import { hostRandom, KERNEL_REFERENCE, type KernelCase, type KernelImpl } from '../suites/kernels.js';
import { prepareTfjsWasm, tf } from './backends.js';

const NO_ATTENTION = 'no fused chunked attention in this library';

/** Plain tfjs on its `wasm` or `cpu` backend. */
export function tfjsKernelPeer(backendName: 'wasm' | 'cpu'): KernelImpl {
  const use = async () => {
    if (tf.getBackend() !== backendName && !(await tf.setBackend(backendName)))
      throw new Error(`tfjs backend ${backendName} failed to initialise`);
    await tf.ready();
  };
  return {
    name: backendName === 'wasm' ? KERNEL_REFERENCE : 'tfjs-cpu (plain tfjs)',
    async start() {
      if (backendName === 'wasm') await prepareTfjsWasm();
      else await import('@tensorflow/tfjs-backend-cpu');
      await use();
      return `tfjs ${tf.version_core} ${backendName}${backendName === 'wasm' ? ' (XNNPACK), one thread in Node' : ' (plain JavaScript kernels)'}`;
    },
    async prepare(c: KernelCase) {
      await use();
      if (!isPlainCase(c)) return NO_ATTENTION;
      let seed = 1;
      const rand = (shape: number[]) =>
        tf.tensor(
          hostRandom(
            shape.reduce((p, x) => p * x, 1),
            seed++,
          ),
          shape,
          'float32',
        );
      const inputs =
        c.op === 'matmul' ? [rand(c.a), rand(c.b)] : c.op === 'exp' ? [rand([c.elements])] : [rand([c.elements]), rand([c.elements])];
      const [a, b] = inputs as [ReturnType<typeof rand>, ReturnType<typeof rand>];
      const op = () => (c.op === 'matmul' ? tf.matMul(a, b) : c.op === 'add' ? tf.add(a, b) : c.op === 'mul' ? tf.mul(a, b) : tf.exp(a));
      return {
        async run() {
          const out = op();
          await out.data();
          out.dispose();
        },
        dispose: () => tf.dispose(inputs),
      };
    },
  };
}

/** The cases a peer can run: everything but the fused attention. */
export type PlainKernelCase = Exclude<KernelCase, { op: 'attention-forward' | 'attention-backward' }>;

function isPlainCase(c: KernelCase): c is PlainKernelCase {
  return c.op !== 'attention-forward' && c.op !== 'attention-backward';
}

type Ort = typeof import('onnxruntime-node');

/** The one-node ONNX graph of a case (opset 17). */
export function kernelGraph(c: PlainKernelCase): OnnxModel {
  if (c.op === 'matmul') {
    const out = [...c.a.slice(0, -1), c.b[c.b.length - 1]!];
    return {
      nodes: [{ opType: 'MatMul', inputs: ['a', 'b'], outputs: ['out'] }],
      inputs: [
        { name: 'a', shape: c.a },
        { name: 'b', shape: c.b },
      ],
      outputs: [{ name: 'out', shape: out }],
      opsets: [{ domain: '', version: 17 }],
    };
  }
  const shape = [c.elements];
  const opType = c.op === 'add' ? 'Add' : c.op === 'mul' ? 'Mul' : 'Exp';
  const inputs = c.op === 'exp' ? ['a'] : ['a', 'b'];
  return {
    nodes: [{ opType, inputs, outputs: ['out'] }],
    inputs: inputs.map((name) => ({ name, shape })),
    outputs: [{ name: 'out', shape }],
    opsets: [{ domain: '', version: 17 }],
  };
}

/** onnxruntime-node on the CPU, one intra-op thread. */
export function onnxKernelPeer(threads = 1): KernelImpl {
  let ort: Ort | undefined;
  return {
    name: 'onnxruntime-cpu',
    async start() {
      process.env.ONNXRUNTIME_NODE_INSTALL ??= 'skip';
      ort = createRequire(import.meta.url)('onnxruntime-node') as Ort;
      const version = (ort as unknown as { env?: { versions?: { node?: string } } }).env?.versions?.node ?? '';
      return `onnxruntime-node ${version} CPU, ${threads} thread(s), one-node graphs`;
    },
    async prepare(c: KernelCase) {
      const o = ort;
      if (!o) throw new Error('onnxruntime: start() first');
      if (!isPlainCase(c)) return NO_ATTENTION;
      const graph = kernelGraph(c);
      const session = await o.InferenceSession.create(serializeOnnxModel(graph), { intraOpNumThreads: threads });
      const feeds = Object.fromEntries(
        graph.inputs.map((v, i) => [
          v.name,
          new o.Tensor(
            'float32',
            hostRandom(
              v.shape.reduce((p, x) => p * x, 1),
              i + 1,
            ),
            v.shape,
          ),
        ]),
      );
      return {
        async run() {
          const out = await session.run(feeds);
          for (const t of Object.values(out)) t.dispose();
        },
        dispose: () => void session.release(),
      };
    },
  };
}

/** The peers of the CLI's kernels suite. */
export function nodeKernelPeers(): KernelImpl[] {
  return [tfjsKernelPeer('wasm'), tfjsKernelPeer('cpu'), onnxKernelPeer(1)];
}
