/**
 * Command-line flags → a {@link BenchConfig} plus output paths. Pure (no Node imports), so the
 * browser page and the tests use it too.
 *
 * @module
 */
import { BACKEND_NAMES, VARIANT_NAMES, type BenchConfig, type Pass } from './types.js';

/** A flag the benchmark does not accept; the message names the flag and the bad value. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** What the CLI was asked to do. */
export interface CliOptions {
  config: BenchConfig;
  /** Write the JSON records here. */
  json?: string;
  /** Write the markdown table here. */
  markdown?: string;
  /** Write the SVG charts into this folder. */
  svg?: string;
  /** Print the usage text and exit. */
  help: boolean;
}

/** The usage text printed by `--help` and after a bad flag. */
export const USAGE = `Usage: pnpm bench [-- flags]   (or: pnpm --filter bench bench -- flags)

  --backends LIST   ${BACKEND_NAMES.join(',')}
                    (default: cpu,wasm,tfjs-wasm,webgpu; one that cannot start is reported as unavailable)
  --variants LIST   ${VARIANT_NAMES.join(',')}
                    (default: full,local,lsh-1,lsh-2,lsh-4)
  --lengths LIST    sequence lengths, multiples of the chunk length; 1k = 1024 (default: 512,1k,2k; --quick: 256,1k)
  --pass P          forward | backward | both (default: both; backward = forward + backward)
  --batch N         batch size (default 1)
  --heads N         attention heads (default 1)
  --dhead N         size of each head (default 64)
  --repeats N       most timed runs per case after warm-up (default 3; --quick 2)
  --warmup N        untimed runs before timing (default 1)
  --chunk N         chunk length of local and LSH attention (default 64)
  --inputs KIND     clustered | gaussian (default clustered)
  --seed N          seed of inputs and LSH rotations (default 1)
  --full-budget S   run full attention (and the error reference) only while its estimated
                    forward time stays under S seconds (default 10)
  --wasm-threads N  threads of the wasm backend (default 1, as the other CPU backends here run)
  --plain-simd      keep the engine's default SIMD (every suite; without it the bench turns on relaxed
                    SIMD, fused multiply-add, where Node has it behind a flag: Node 20)
  --no-baselines    skip the peer baselines (plain tfjs attention, onnxruntime)
  --no-model        skip the whole-model rows
  --model-backend B backend of the whole-model rows (default wasm when measured, then tfjs-wasm, else the first)
  --model-lengths L lengths of the whole-model rows (default 256,1k; --quick 256)
  --model-depths D  layer counts of the whole-model rows (default 2,4; --quick 2)
  --json FILE       write one JSON record per measurement, with machine info
  --markdown FILE   write the markdown table
  --svg DIR         write the SVG charts into DIR
  --quick           small, fast run (lengths 256,1k, 2 repeats)
  -h, --help        this text

  --suite NAME      attention (this run, the default) | kernels | threads | reversible | chunked | model |
                    load | profile | generate | pytorch; \`--suite NAME --help\` lists the flags of a suite`;

const DEFAULTS: BenchConfig = {
  // wasm (@reformer/backend-wasm) is the CPU backend users are told to pick; cpu stays as the reference.
  backends: ['cpu', 'wasm', 'tfjs-wasm', 'webgpu'],
  variants: ['full', 'local', 'lsh-1', 'lsh-2', 'lsh-4'],
  lengths: [512, 1024, 2048],
  passes: ['forward', 'backward'],
  batch: 1,
  heads: 1,
  dHead: 64,
  repeats: 3,
  warmup: 1,
  caseBudgetMs: 800,
  fullBudgetMs: 10_000,
  chunkLength: 64,
  queryChunk: 256,
  baselines: true,
  model: true,
  seed: 1,
  inputs: 'clustered',
};

/** The default configuration (what `pnpm bench` with no flags runs). */
export function defaultConfig(): BenchConfig {
  return structuredClone(DEFAULTS);
}

function list<T extends string>(flag: string, value: string, allowed: readonly T[]): T[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) throw new UsageError(`${flag} needs a comma-separated list of ${allowed.join(', ')}; got '${value}'.`);
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new UsageError(`${flag}: unknown value '${item}' (allowed: ${allowed.join(', ')}).`);
    }
  }
  return [...new Set(items)] as T[];
}

function positiveInt(flag: string, value: string, min = 1): number {
  const n = parseSize(value);
  if (n === undefined || n < min) throw new UsageError(`${flag} needs an integer >= ${min}; got '${value}'.`);
  return n;
}

/** `1024`, `1k`, `4K`, `1m` → integer, or undefined if not a plain non-negative integer. */
function parseSize(value: string): number | undefined {
  const m = /^(\d+)([kKmM]?)$/.exec(value.trim());
  if (!m) return undefined;
  const mult = m[2] === '' ? 1 : m[2]!.toLowerCase() === 'k' ? 1024 : 1024 * 1024;
  return Number(m[1]) * mult;
}

/** The arguments without the leading `--` that pnpm passes on. */
function dropSeparator(argv: readonly string[]): string[] {
  return argv[0] === '--' ? argv.slice(1) : [...argv];
}

/** `--name=value` as `['--name', 'value']`; any other argument as `[arg, undefined]`. */
function splitInlineValue(arg: string): [string, string | undefined] {
  const eq = arg.indexOf('=');
  return arg.startsWith('--') && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
}

/**
 * Parses the benchmark's flags (`--flag value` or `--flag=value`).
 *
 * @param argv - the arguments after the program name (a leading `--`, as pnpm passes it, is ignored).
 * @returns the configuration and output paths.
 * @throws {UsageError} naming the flag and the bad value: unknown flags, unknown backends or variants,
 *   non-integer or non-positive numbers, lengths that are not multiples of the chunk length.
 */
export function parseArgs(argv: readonly string[]): CliOptions {
  const config = defaultConfig();
  const out: CliOptions = { config, help: false };
  let lengthsGiven = false;
  let repeatsGiven = false;
  const args = dropSeparator(argv);
  for (let i = 0; i < args.length; i++) {
    const [arg, value] = splitInlineValue(args[i]!);
    const take = (): string => {
      if (value !== undefined) return value;
      const next = args[i + 1];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${arg} needs a value.`);
      i++;
      return next;
    };
    const noValue = () => {
      if (value !== undefined) throw new UsageError(`${arg} takes no value; got '${value}'.`);
    };
    switch (arg) {
      case '--backends':
        config.backends = list(arg, take(), BACKEND_NAMES);
        break;
      case '--variants':
        config.variants = list(arg, take(), VARIANT_NAMES);
        break;
      case '--lengths': {
        const raw = take();
        const items = raw.split(',').filter((s) => s.trim() !== '');
        if (items.length === 0) throw new UsageError(`--lengths needs a comma-separated list of lengths; got '${raw}'.`);
        config.lengths = items.map((s) => positiveInt('--lengths', s));
        lengthsGiven = true;
        break;
      }
      case '--pass': {
        const p = take();
        if (p === 'forward' || p === 'backward') config.passes = [p as Pass];
        else if (p === 'both') config.passes = ['forward', 'backward'];
        else throw new UsageError(`--pass: unknown value '${p}' (allowed: forward, backward, both).`);
        break;
      }
      case '--batch':
        config.batch = positiveInt(arg, take());
        break;
      case '--heads':
        config.heads = positiveInt(arg, take());
        break;
      case '--dhead':
        config.dHead = positiveInt(arg, take());
        break;
      case '--repeats':
        config.repeats = positiveInt(arg, take());
        repeatsGiven = true;
        break;
      case '--warmup':
        config.warmup = positiveInt(arg, take(), 0);
        break;
      case '--chunk':
        config.chunkLength = positiveInt(arg, take());
        break;
      case '--seed':
        config.seed = positiveInt(arg, take(), 0);
        break;
      case '--inputs': {
        const v = take();
        if (v !== 'clustered' && v !== 'gaussian') throw new UsageError(`--inputs: unknown value '${v}' (allowed: clustered, gaussian).`);
        config.inputs = v;
        break;
      }
      case '--full-budget': {
        const raw = take();
        const s = Number(raw);
        if (!Number.isFinite(s) || s <= 0) throw new UsageError(`--full-budget needs a positive number of seconds; got '${raw}'.`);
        config.fullBudgetMs = s * 1000;
        break;
      }
      case '--wasm-threads':
        config.wasmThreads = positiveInt(arg, take());
        break;
      case '--no-baselines':
        noValue();
        config.baselines = false;
        break;
      case '--no-model':
        noValue();
        config.model = false;
        break;
      case '--model-backend': {
        const [b] = list(arg, take(), BACKEND_NAMES);
        config.modelBackend = b!;
        break;
      }
      case '--model-lengths':
        config.modelLengths = take()
          .split(',')
          .map((x) => positiveInt(arg, x));
        break;
      case '--model-depths':
        config.modelDepths = take()
          .split(',')
          .map((x) => positiveInt(arg, x));
        break;
      case '--json':
        out.json = take();
        break;
      case '--markdown':
        out.markdown = take();
        break;
      case '--svg':
        out.svg = take();
        break;
      case '--quick':
        noValue();
        if (!lengthsGiven) config.lengths = [256, 1024];
        if (!repeatsGiven) config.repeats = 2;
        config.caseBudgetMs = 600;
        config.quick = true;
        break;
      case '-h':
      case '--help':
        out.help = true;
        break;
      default:
        throw new UsageError(`unknown flag '${args[i]}'.`);
    }
  }
  validateConfig(config);
  return out;
}

/**
 * Checks a configuration (also the one the browser page builds from its form).
 *
 * @throws {UsageError} for lengths that are not multiples of the chunk length or shorter than it.
 */
export function validateConfig(config: BenchConfig): void {
  for (const L of config.lengths) {
    if (L < config.chunkLength || L % config.chunkLength !== 0) {
      throw new UsageError(`--lengths: ${L} is not a positive multiple of the chunk length ${config.chunkLength}.`);
    }
  }
  if (config.backends.length === 0) throw new UsageError('--backends: the list is empty.');
  config.lengths = [...new Set(config.lengths)].sort((a, b) => a - b);
}

// ---- suites: `pnpm bench -- --suite NAME [flags]` ----

/** The suites of `pnpm bench -- --suite NAME`; `attention` is what `pnpm bench` runs without `--suite`. */
export const SUITE_NAMES = [
  'attention',
  'kernels',
  'threads',
  'reversible',
  'chunked',
  'model',
  'load',
  'profile',
  'generate',
  'pytorch',
] as const;
/** A suite name. */
export type SuiteName = (typeof SUITE_NAMES)[number];

/**
 * Takes `--suite NAME` (or `--suite=NAME`) out of the arguments.
 *
 * @param argv - the arguments after the program name (a leading `--`, as pnpm passes it, is dropped).
 * @returns the suite (default `attention`) and the other arguments, in order.
 * @throws {UsageError} for a missing or unknown suite name.
 */
export function splitSuite(argv: readonly string[]): { suite: SuiteName; rest: string[] } {
  const args = dropSeparator(argv);
  let suite: SuiteName = 'attention';
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg !== '--suite' && !arg.startsWith('--suite=')) {
      rest.push(arg);
      continue;
    }
    const value = arg === '--suite' ? args[++i] : arg.slice('--suite='.length);
    if (value === undefined || value === '' || value.startsWith('--'))
      throw new UsageError(`--suite needs a name (${SUITE_NAMES.join(', ')}).`);
    if (!(SUITE_NAMES as readonly string[]).includes(value))
      throw new UsageError(`--suite: unknown suite '${value}' (allowed: ${SUITE_NAMES.join(', ')}).`);
    suite = value as SuiteName;
  }
  return { suite, rest };
}

/** How a suite flag reads its value: a switch, a number or list of numbers, a string, or one/several of a list. */
export type FlagKind =
  | 'switch'
  | 'int'
  | 'count'
  | 'ints'
  | 'number'
  | 'string'
  | { oneOf: readonly string[] }
  | { listOf: readonly string[] };

/** The flags a suite accepts, by name without the leading `--`. */
export type FlagSpec = Record<string, FlagKind>;

/** The values {@link parseFlags} read: only the flags that were given. */
export type FlagValues<S extends FlagSpec> = {
  [K in keyof S]?: S[K] extends 'switch'
    ? true
    : S[K] extends 'int' | 'count' | 'number'
      ? number
      : S[K] extends 'ints'
        ? number[]
        : S[K] extends { listOf: readonly (infer T)[] }
          ? T[]
          : S[K] extends { oneOf: readonly (infer T)[] }
            ? T
            : string;
};

/**
 * Reads a suite's flags (`--flag value` or `--flag=value`). Integers accept `1k`/`1m` suffixes and must be
 * ≥ 0 (`int`) or ≥ 1 (`count`, each of `ints`); `number` must be finite and positive.
 *
 * @param suite - the suite's name, for the messages.
 * @param argv - the suite's arguments (without `--suite NAME`).
 * @param spec - the accepted flags.
 * @throws {UsageError} naming the flag and the bad value, or the unknown flag and the accepted ones.
 */
export function parseFlags<S extends FlagSpec>(suite: string, argv: readonly string[], spec: S): FlagValues<S> {
  const out: Record<string, unknown> = {};
  const args = dropSeparator(argv);
  for (let i = 0; i < args.length; i++) {
    const [arg, inline] = splitInlineValue(args[i]!);
    let value = inline;
    const name = arg === '-h' ? 'help' : arg.startsWith('--') ? arg.slice(2) : undefined;
    const kind = name !== undefined && Object.hasOwn(spec, name) ? spec[name]! : undefined;
    if (name === undefined || kind === undefined) {
      const known = Object.keys(spec)
        .map((k) => `--${k}`)
        .join(', ');
      throw new UsageError(`--suite ${suite}: unknown flag '${args[i]}' (accepted: ${known}).`);
    }
    if (kind === 'switch') {
      if (value !== undefined) throw new UsageError(`${arg} takes no value; got '${value}'.`);
      out[name] = true;
      continue;
    }
    if (value === undefined) {
      const next = args[i + 1];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${arg} needs a value.`);
      value = next;
      i++;
    }
    if (kind === 'int') out[name] = positiveInt(arg, value, 0);
    else if (kind === 'count') out[name] = positiveInt(arg, value, 1);
    else if (kind === 'ints') {
      const items = value.split(',').filter((s) => s.trim() !== '');
      if (items.length === 0) throw new UsageError(`${arg} needs a comma-separated list of integers; got '${value}'.`);
      out[name] = items.map((s) => positiveInt(arg, s));
    } else if (kind === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${arg} needs a positive number; got '${value}'.`);
      out[name] = n;
    } else if (kind === 'string') out[name] = value;
    else if ('oneOf' in kind) {
      if (!kind.oneOf.includes(value)) throw new UsageError(`${arg}: unknown value '${value}' (allowed: ${kind.oneOf.join(', ')}).`);
      out[name] = value;
    } else out[name] = list(arg, value, kind.listOf);
  }
  return out as FlagValues<S>;
}

/** The flags every suite accepts besides its own. */
export const COMMON_SUITE_FLAGS = {
  quick: 'switch',
  repeats: 'count',
  warmup: 'int',
  json: 'string',
  help: 'switch',
} as const satisfies FlagSpec;

/** The flags of a suite that runs on one backend: {@link COMMON_SUITE_FLAGS} and `--backend NAME`. */
export const ONE_BACKEND_SUITE_FLAGS = {
  ...COMMON_SUITE_FLAGS,
  backend: { oneOf: BACKEND_NAMES },
} as const satisfies FlagSpec;
