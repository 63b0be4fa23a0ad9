// Shared tsup settings of the published packages. Each package's tsup.config.ts names its entry points
// and what stays external; the rest is the same everywhere.

/**
 * Returns a tsup config: ESM for ES2022, declaration files, the output folder cleaned first, and no
 * source maps (the ESM output is unminified and readable as it is; docs/architecture.md, "Publishing").
 * @param {{ entry: Record<string, string>; external?: (string | RegExp)[]; dts?: import('tsup').Options['dts'] }} options
 * @returns {import('tsup').Options}
 */
export function reformerTsupConfig({ entry, external = [], dts = true }) {
  return {
    entry,
    format: ['esm'],
    dts,
    sourcemap: false,
    clean: true,
    target: 'es2022',
    external,
  };
}
