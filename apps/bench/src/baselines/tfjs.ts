/**
 * Peer baseline: full attention as a TensorFlow.js user writes it — `matMul` + `softmax` + `matMul` on
 * the unit keys, gradients by `tf.grads` — on a registered tfjs backend (wasm in the CLI). Browser-safe:
 * the caller passes its tfjs module.
 *
 * @module
 */
import type * as TF from '@tensorflow/tfjs-core';
import type { HostInputs } from '../inputs.js';
import type { Pass } from '../types.js';
import type { Baseline, PreparedBaseline } from './baseline.js';

/**
 * The plain tfjs attention baseline on tfjs backend `tfBackend`.
 *
 * @param tf - the tfjs module (`@tensorflow/tfjs-core`) whose backend package was imported, with its
 *   gradients registered (`import '@tensorflow/tfjs-core/dist/register_all_gradients'`, which the full
 *   `@tensorflow/tfjs` bundle does for its users).
 * @param prepare - registers the backend first (e.g. sets the wasm paths), if needed.
 */
export function tfjsPlainBaseline(tf: typeof TF, tfBackend: string, prepare?: () => Promise<void>): Baseline {
  const attention = (q: TF.Tensor, k: TF.Tensor, v: TF.Tensor): TF.Tensor => tf.matMul(tf.softmax(tf.matMul(q, k, false, true)), v);
  return {
    name: 'tfjs-plain',
    backend: `tfjs-${tfBackend}`,
    passes: ['forward', 'backward'],
    async start() {
      await prepare?.();
      if (!(await tf.setBackend(tfBackend))) throw new Error(`tfjs backend '${tfBackend}' failed to initialise`);
      await tf.ready();
      return `tfjs ${tf.version_core} ${tfBackend}: matMul(softmax(matMul(q, k, false, true)), v), tf.grads for the backward`;
    },
    async prepare(inputs: HostInputs): Promise<PreparedBaseline> {
      await tf.setBackend(tfBackend);
      const shape = inputs.shape;
      const q = tf.tensor(inputs.qk, shape);
      const k = tf.tensor(inputs.keys, shape);
      const v = tf.tensor(inputs.v, shape);
      const dOut = tf.tensor(inputs.dOut, shape);
      const grads = tf.grads((a: TF.Tensor, b: TF.Tensor, c: TF.Tensor) => attention(a, b, c));
      const once = async (pass: Pass) => {
        if (pass === 'forward') {
          const o = tf.tidy(() => attention(q, k, v));
          await o.data();
          o.dispose();
        } else {
          const gs = grads([q, k, v], dOut);
          for (const g of gs) await g.data();
          tf.dispose(gs);
        }
      };
      return {
        run: once,
        async output() {
          const o = tf.tidy(() => attention(q, k, v));
          const data = (await o.data()) as Float32Array;
          o.dispose();
          return data;
        },
        async peakBytes(pass) {
          // tf.profile's peak is tfjs's whole live memory; count only this run's growth on top of its
          // own inputs (as our rows count their inputs), not tensors other code left alive in tfjs.
          const before = tf.memory().numBytes;
          const info = await tf.profile(() => once(pass));
          const inputBytes = 4 * inputs.qk.length * 4; // q, k, v, dOut, alive during both passes
          return info.peakBytes - before + inputBytes;
        },
        dispose() {
          tf.dispose([q, k, v, dOut]);
        },
      };
    },
  };
}
