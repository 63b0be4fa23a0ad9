/**
 * `sync()` waits for queued work (the Backend contract), not only for `tf.ready()`.
 *
 * The GPU tfjs backends cannot run here, so their queue is modelled by a stand-in tfjs module whose
 * programs finish later and whose readbacks, like WebGL fences and WebGPU's in-order queue, resolve
 * only after everything queued before them. The same code path then runs on real tfjs (cpu kernels
 * under a GPU backend's name) to check its calls and that it leaves no tensor behind.
 */
import { describe, expect, it } from 'vitest';
import { TfjsBackend } from '../src/backend.js';
import type { TfModule } from '../src/types.js';
import { createWasm, tf } from './setup-wasm.js';

/** A tfjs stand-in with an asynchronous in-order queue of programs. */
function queuedTf() {
  const queue: Promise<void>[] = [];
  const state = { finished: 0, queued: 0, probesAlive: 0 };
  const enqueue = (ms: number) => {
    state.queued++;
    queue.push(new Promise<void>((resolve) => setTimeout(resolve, ms)).then(() => void state.finished++));
  };
  const fake = {
    ready: async () => {},
    fill: (_shape: number[], _value: number, _dtype: string) => {
      enqueue(0);
      state.probesAlive++;
      const behind = [...queue];
      return {
        // A readback resolves once everything queued before it (and the fill itself) has run.
        data: async () => {
          await Promise.all(behind);
          return new Float32Array(1);
        },
        dispose: () => void state.probesAlive--,
      };
    },
  };
  return { tf: fake as unknown as TfModule, enqueue, state };
}

describe('TfjsBackend.sync waits for queued work', () => {
  for (const name of ['webgl', 'webgpu']) {
    it(`${name}: resolves only after the programs queued before it have finished`, async () => {
      const q = queuedTf();
      const be = new TfjsBackend(q.tf, name);
      expect(be.canReadSync).toBe(false);
      q.enqueue(30);
      q.enqueue(5);
      await be.sync();
      expect(q.state.finished, 'programs finished when sync() resolved').toBe(q.state.queued);
      expect(q.state.probesAlive, 'the readback probe is disposed').toBe(0);
    });
  }

  it('the device path on real tfjs reads a probe back and leaves no tensor behind', async () => {
    await createWasm();
    const be = new TfjsBackend(tf, 'webgl-like'); // not a sync-read backend name: takes the GPU path
    expect(be.canReadSync).toBe(false);
    const before = tf.memory().numTensors;
    await be.sync();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('cpu-like tfjs backends (wasm) finish every kernel at once: sync() allocates nothing', async () => {
    const be = await createWasm();
    expect(be.canReadSync).toBe(true);
    const before = tf.memory().numTensors;
    await be.sync();
    expect(tf.memory().numTensors).toBe(before);
  });
});
