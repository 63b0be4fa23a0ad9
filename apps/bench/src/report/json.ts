/**
 * The JSON document of a run: one record per measurement, with the configuration, the machine, the
 * backends (adapter, engine) and the package versions.
 *
 * @module
 */
import type { BenchResult } from '../types.js';

/** Identifies the document's layout. */
export const JSON_SCHEMA = 'reformer-bench/1';

/** The run as pretty-printed JSON. */
export function toJson(result: BenchResult): string {
  return `${JSON.stringify({ schema: JSON_SCHEMA, ...result }, null, 2)}\n`;
}
