import type { Options } from 'tsup';

/** What a package's tsup.config.ts gives {@link reformerTsupConfig}. */
export interface ReformerTsupOptions {
  /** Output name → source entry point (`{ index: 'src/index.ts' }`). */
  entry: Record<string, string>;
  /** Imports left to the package's dependencies (default none). */
  external?: (string | RegExp)[];
  /** Declaration files (default true: one per entry). */
  dts?: Options['dts'];
}

/**
 * Returns a tsup config: ESM for ES2022, declaration files, the output folder cleaned first, and no
 * source maps (the ESM output is unminified and readable as it is; docs/architecture.md, "Publishing").
 */
export declare function reformerTsupConfig(options: ReformerTsupOptions): Options;
