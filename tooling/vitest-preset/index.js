// Shared vitest settings for every package.
// Each package writes test-results/vitest.json, which tooling/scripts/run-tests.mjs sums into the
// closing `N passed, N failed` line. `allowOnly: false` makes a stray `.only` fail the run.
import { defineConfig, mergeConfig } from 'vitest/config';

/**
 * Returns a vitest config: the shared defaults merged with a package's own settings.
 * @param {import('vitest/config').UserConfig} [overrides]
 */
export function reformerVitestConfig(overrides = {}) {
  return mergeConfig(
    defineConfig({
      test: {
        include: ['test/**/*.test.ts'],
        allowOnly: false,
        passWithNoTests: false,
        testTimeout: 60_000,
        hookTimeout: 120_000,
        reporters: ['default', 'json'],
        outputFile: { json: 'test-results/vitest.json' },
      },
    }),
    overrides,
  );
}
