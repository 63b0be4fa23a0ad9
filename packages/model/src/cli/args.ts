/**
 * The command line of `reformer-train`: the flags, their strict parsing (decimal integers only, each
 * flag once, negative values accepted as values) and the typed readers of flag values.
 * @module
 */
import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';

/** Every flag of `reformer-train`. */
export const FLAGS = {
  length: { type: 'string' },
  vocab: { type: 'string' },
  text: { type: 'string' },
  'valid-fraction': { type: 'string' },
  layers: { type: 'string' },
  attention: { type: 'string' },
  'd-model': { type: 'string' },
  heads: { type: 'string' },
  'head-size': { type: 'string' },
  ff: { type: 'string' },
  hashes: { type: 'string' },
  buckets: { type: 'string' },
  chunk: { type: 'string' },
  axial: { type: 'string' },
  dropout: { type: 'string' },
  steps: { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  schedule: { type: 'string' },
  warmup: { type: 'string' },
  clip: { type: 'string' },
  seed: { type: 'string' },
  'eval-every': { type: 'string' },
  'eval-batches': { type: 'string' },
  'eval-hashes': { type: 'string' },
  'checkpoint-dir': { type: 'string' },
  'checkpoint-every': { type: 'string' },
  keep: { type: 'string' },
  resume: { type: 'boolean' },
  overwrite: { type: 'boolean' },
  out: { type: 'string' },
  'log-every': { type: 'string' },
  'max-memory': { type: 'string' },
  backend: { type: 'string' },
  threads: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The flags as given (strings, booleans for switches). */
export type Flags = { [K in keyof typeof FLAGS]?: (typeof FLAGS)[K]['type'] extends 'boolean' ? boolean : string };

/** The parsed command line. */
export interface CliOptions {
  task: 'duplication' | 'char-lm';
  flags: Flags;
}

/** A value that starts with a dash but is a number (`-1`, `-0.5`, `-.5`), not a flag. */
const NEGATIVE_NUMBER = /^-(?:\d|\.\d)/;

/**
 * `--seed -1` → `--seed=-1`: Node's `parseArgs` refuses a value starting with a dash as ambiguous; a
 * negative number after a flag that takes a value is that flag's value (and then its range check
 * speaks).
 */
function joinNegativeValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const name = /^--([a-z-]+)$/.exec(a)?.[1];
    const next = argv[i + 1];
    if (
      name !== undefined &&
      name in FLAGS &&
      FLAGS[name as keyof typeof FLAGS].type === 'string' &&
      next !== undefined &&
      NEGATIVE_NUMBER.test(next)
    ) {
      out.push(`${a}=${next}`);
      i += 1;
    } else {
      out.push(a);
    }
  }
  return out;
}

/** Parses argv (without `node` and the script); throws {@link UsageError} on anything malformed. */
export function parseCommandLine(argv: readonly string[]): CliOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args: joinNegativeValues(argv), options: FLAGS, allowPositionals: true, strict: true, tokens: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const seen = new Set<string>();
  for (const t of parsed.tokens) {
    if (t.kind !== 'option') continue;
    if (seen.has(t.name)) throw new UsageError(`--${t.name} is given more than once; give each flag once.`);
    seen.add(t.name);
  }
  const flags = parsed.values as Flags;
  if (flags.help) return 'help';
  const [task, ...rest] = parsed.positionals;
  if (task === undefined) throw new UsageError('missing the task: duplication or char-lm.');
  if (task !== 'duplication' && task !== 'char-lm') throw new UsageError(`unknown task '${task}': expected duplication or char-lm.`);
  if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'.`);
  return { task, flags };
}

/** Decimal integers only: no `0x10`, `1e1`, `1.0`, `Infinity` or blanks. */
const DECIMAL_INTEGER = /^[+-]?\d+$/;
/** Decimal numbers with an optional exponent (`5e-3`, `0.1`, `.5`): no hex, `Infinity` or `NaN`. */
const DECIMAL_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** An integer flag (decimal digits only) ≥ `min`, or `fallback` when absent. */
export function int(flags: Flags, name: keyof Flags, fallback: number, min: number): number {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (typeof raw !== 'string' || !DECIMAL_INTEGER.test(raw) || !Number.isSafeInteger(v) || v < min) {
    throw new UsageError(`--${name} must be a decimal integer ≥ ${min}, got '${String(raw)}'.`);
  }
  return v;
}

/** A number flag in [min, max] (decimal notation, exponent allowed), or `fallback` when absent. */
export function num(flags: Flags, name: keyof Flags, fallback: number, min: number, max = Infinity): number {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (typeof raw !== 'string' || !DECIMAL_NUMBER.test(raw) || !Number.isFinite(v) || v < min || v > max) {
    throw new UsageError(`--${name} must be a decimal number in [${min}, ${max}], got '${String(raw)}'.`);
  }
  return v;
}

/** One of `allowed`, or `fallback` when absent. */
export function choice<T extends string>(flags: Flags, name: keyof Flags, fallback: T, allowed: readonly T[]): T {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  if (!allowed.includes(raw as T)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got '${String(raw)}'.`);
  return raw as T;
}

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** A byte size: decimal digits with an optional K, M, G or T (binary multiples; `B`/`iB` suffixes allowed). */
export function bytesFlag(flags: Flags, name: keyof Flags, fallback: number): number {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const m = typeof raw === 'string' ? /^(\d+(?:\.\d+)?)([KMGT]?)(?:i?B)?$/i.exec(raw) : null;
  const v = m === null ? NaN : Number(m[1]) * UNITS[m[2]!.toUpperCase()]!;
  if (!Number.isFinite(v) || v < 1)
    throw new UsageError(`--${name} must be a size such as 16G, 512M or 1000000 (bytes), got '${String(raw)}'.`);
  return Math.floor(v);
}
