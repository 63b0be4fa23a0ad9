/**
 * Memory accounting: `liveBytes` is exactly 4 bytes per live element (views share storage),
 * `liveTensors` / `liveBuffers` count handles and allocations, `peakBytes` is a high-water mark
 * that `resetPeak()` lowers to the current `liveBytes`.
 */
import { expect, it } from 'vitest';
import { dispose, memory, resetPeak, tidy } from '../engine.js';
import { fill, tensor, zeros } from '../ops/creation.js';
import { add } from '../ops/elementwise.js';
import { reshape } from '../ops/layout.js';
import { on, type SuiteContext } from './harness.js';

/** Declares the memory accounting tests (inside the caller's `describe`). */
export function memoryTests(ctx: SuiteContext): void {
  it('liveBytes is 4 bytes per live element as tensors are created and disposed', () => {
    const be = ctx.backend;
    const m0 = memory(be);
    const delta = () => {
      const m = memory(be);
      return { bytes: m.liveBytes - m0.liveBytes, tensors: m.liveTensors - m0.liveTensors, buffers: m.liveBuffers - m0.liveBuffers };
    };
    const a = on(be, () => zeros([3, 5]));
    expect(delta()).toEqual({ bytes: 60, tensors: 1, buffers: 1 });
    const b = on(be, () => tensor(new Int32Array(7), [7]));
    expect(delta()).toEqual({ bytes: 88, tensors: 2, buffers: 2 });
    const view = reshape(a, [15]);
    expect(delta()).toEqual({ bytes: 88, tensors: 3, buffers: 2 });
    const c = add(a, a);
    expect(delta()).toEqual({ bytes: 148, tensors: 4, buffers: 3 });
    a.dispose();
    expect(delta()).toEqual({ bytes: 148, tensors: 3, buffers: 3 });
    view.dispose();
    expect(delta()).toEqual({ bytes: 88, tensors: 2, buffers: 2 });
    const empty = on(be, () => fill([0, 4], 1));
    expect(delta().bytes).toBe(88);
    expect(delta().tensors).toBe(3);
    const s = on(be, () => fill([], 2, 'int32'));
    expect(delta().bytes).toBe(92);
    dispose([b, c, empty, s]);
    expect(delta()).toEqual({ bytes: 0, tensors: 0, buffers: 0 });
    // Disposing twice is harmless and changes nothing.
    c.dispose();
    expect(delta()).toEqual({ bytes: 0, tensors: 0, buffers: 0 });
  });

  it('peakBytes is a high-water mark and resetPeak lowers it to liveBytes', () => {
    const be = ctx.backend;
    resetPeak(be);
    const m0 = memory(be);
    expect(m0.peakBytes).toBe(m0.liveBytes);
    const big = on(be, () => zeros([1000]));
    const m1 = memory(be);
    expect(m1.liveBytes).toBe(m0.liveBytes + 4000);
    expect(m1.peakBytes).toBe(m0.liveBytes + 4000);
    const small = on(be, () => zeros([10]));
    big.dispose();
    const m2 = memory(be);
    expect(m2.liveBytes).toBe(m0.liveBytes + 40);
    expect(m2.peakBytes).toBe(m0.liveBytes + 4040);
    resetPeak(be);
    expect(memory(be).peakBytes).toBe(m0.liveBytes + 40);
    small.dispose();
    expect(memory(be).peakBytes).toBe(m0.liveBytes + 40);
    expect(memory(be).liveBytes).toBe(m0.liveBytes);
    resetPeak(be);
    expect(memory(be).peakBytes).toBe(m0.liveBytes);
    expect(memory(be).backend).toBe(be.name);
  });

  it('peakBytes sees the intermediate of a composite op', () => {
    const be = ctx.backend;
    const x = on(be, () => zeros([256]));
    resetPeak(be);
    const m0 = memory(be);
    // (x + x) + x under tidy: the 1 KiB intermediate and the 1 KiB result were live together.
    const y = tidy(() => add(add(x, x), x));
    const m1 = memory(be);
    expect(m1.liveBytes).toBe(m0.liveBytes + 1024);
    expect(m1.peakBytes).toBeGreaterThanOrEqual(m0.liveBytes + 2048);
    dispose([x, y]);
  });
}
