import type { UserConfig } from 'vitest/config';

/**
 * Returns a vitest config: the shared defaults (tests in `test/**\/*.test.ts`, no `.only`, generous
 * timeouts, a JSON report in `test-results/vitest.json` for the repository's test summary) merged with
 * a package's own settings.
 */
export declare function reformerVitestConfig(overrides?: UserConfig): UserConfig;
