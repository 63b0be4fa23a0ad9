/**
 * Leak tests: every op's forward, and every op's gradient, leaves `liveTensors`, `liveBytes` and
 * `liveBuffers` of the backend exactly as they were once the results are disposed.
 */
import { it } from 'vitest';
import { attentionProblems } from './attention.js';
import { checkAttentionBackward, checkAttentionForward } from './attention-checks.js';
import { Rng, seedOf } from './cases.js';
import { gradGroups } from './gradients.js';
import { checkForwardLeak, checkGradientLeak, type SuiteContext } from './harness.js';
import { kernelGroups } from './kernels.js';

/** Runs `fn` on every item and throws one error listing every failure. */
export async function forEachCollect<T>(items: readonly T[], fn: (item: T) => void | Promise<void>): Promise<void> {
  const failures: string[] = [];
  for (const item of items) {
    try {
      await fn(item);
    } catch (err) {
      failures.push(err instanceof Error ? err.message : String(err));
    }
  }
  if (failures.length > 0) {
    throw new Error(
      `${failures.length} of ${items.length} cases failed:\n\n${failures.slice(0, 8).join('\n\n')}${failures.length > 8 ? `\n\n... and ${failures.length - 8} more` : ''}`,
    );
  }
}

/** Declares the leak tests (inside the caller's `describe`). */
export function leakTests(ctx: SuiteContext): void {
  for (const group of kernelGroups()) {
    it(`forward of ${group.name} leaves nothing behind`, async () => {
      const cases = group.build(new Rng(seedOf(`leak ${group.name}`)), ctx.full);
      await forEachCollect(cases, (c) => checkForwardLeak(ctx, c));
    });
  }
  for (const group of gradGroups()) {
    it(`${group.name} leaves nothing behind`, async () => {
      const cases = group.build(new Rng(seedOf(`leak ${group.name}`)));
      await forEachCollect(cases, (c) => checkGradientLeak(ctx, c));
    });
  }
  it('chunkedAttention forward and backward leave nothing behind', async () => {
    const rng = new Rng(seedOf('leak chunkedAttention'));
    // The forward and backward checks snapshot memory around the op and its gradient.
    await forEachCollect(attentionProblems(rng, 2), async (p) => {
      await checkAttentionForward(ctx, p);
      await checkAttentionBackward(ctx, p, rng);
    });
  });
}
