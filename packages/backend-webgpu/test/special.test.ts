/**
 * WGSL has no erf: the float32 evaluation of Cody's rational approximations (and the exact GELU and
 * its derivative built on it) against the CPU backend's double-precision reference, on a dense grid.
 */
import { activationBackward, erf, gelu, ones, tensor, type Tensor } from '@reformer/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { WebGPUBackend } from '../src/index.js';
import { cpu, host, onBackend } from './helpers.js';
import { createTestBackend } from './setup.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await createTestBackend();
});
afterAll(() => gpu?.dispose());

const POINTS = Float32Array.from({ length: 28001 }, (_, i) => -7 + (14 * i) / 28000);
const grid = (): Tensor => tensor(POINTS);

for (const [name, fn, bound] of [
  ['erf', (x: Tensor) => erf(x), 3e-7],
  ['gelu', (x: Tensor) => gelu(x), 3e-7],
  ["gelu'", (x: Tensor) => activationBackward('gelu', x, ones(x.shape)), 3e-7],
] as const) {
  it(`${name} on 28001 points in [-7, 7]: absolute error (relative above 1) ≤ ${bound}`, async () => {
    const [want] = await host(await onBackend(cpu, () => [fn(grid())]));
    const [got] = await host(await onBackend(gpu, () => [fn(grid())]));
    let worst = 0;
    for (let i = 0; i < want!.length; i++) worst = Math.max(worst, Math.abs(got![i]! - want![i]!) / Math.max(1, Math.abs(want![i]!)));
    expect(worst).toBeLessThanOrEqual(bound);
  });
}
