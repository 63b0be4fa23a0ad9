/**
 * `--suite model`: only the whole-model rows of the attention run — one AdamW training step of a small
 * causal Reformer LM against the same model without the Reformer techniques (see `../model.ts`), over
 * lengths and depths, on one backend.
 *
 * @module
 */
import { ONE_BACKEND_SUITE_FLAGS, defaultConfig, parseFlags, UsageError } from '../args.js';
import type { ModelBench } from '../model.js';
import type { RunEnvironment } from '../runner.js';
import type { BenchConfig, MeasurementRecord } from '../types.js';
import { mib, type SuiteContext, type SuiteReport, type SuiteRow, type SuiteOutputOptions } from './suite.js';

/** Options of the model suite: the whole-model fields of a {@link BenchConfig}. */
export interface ModelSuiteOptions extends SuiteOutputOptions {
  config: BenchConfig;
}

const FLAGS = {
  ...ONE_BACKEND_SUITE_FLAGS,
  lengths: 'ints',
  depths: 'ints',
  'full-budget': 'number',
} as const;

/** The flags of `--suite model`. */
export const MODEL_USAGE = `--suite model: one training step of a small Reformer LM vs the same model without the techniques
  --backend B       backend (default wasm)
  --lengths LIST    sequence lengths (default 256,1k; --quick 256)
  --depths LIST     layer counts (default 2,4; --quick 2)
  --full-budget S   skip a transformer step estimated above S seconds (default 10)
  --repeats N       most timed runs per case (default 3; --quick 2)   --warmup N (default 1)
  --json FILE       write the report as JSON`;

/** Parses the flags of `--suite model`. */
export function parseModelSuiteArgs(argv: readonly string[]): ModelSuiteOptions {
  const f = parseFlags('model', argv, FLAGS);
  const config = defaultConfig();
  const backend = f.backend ?? 'wasm';
  config.backends = [backend];
  config.modelBackend = backend;
  config.variants = [];
  config.baselines = false;
  config.model = true;
  if (f.quick) {
    config.quick = true;
    config.repeats = 2;
    config.caseBudgetMs = 600;
  }
  if (f.lengths) config.modelLengths = f.lengths;
  if (f.depths) config.modelDepths = f.depths;
  for (const L of config.modelLengths ?? []) {
    if (L % 64 !== 0) throw new UsageError(`--lengths: ${L} is not a multiple of the model's chunk length 64.`);
  }
  if (f['full-budget'] !== undefined) config.fullBudgetMs = f['full-budget'] * 1000;
  if (f.repeats !== undefined) config.repeats = f.repeats;
  if (f.warmup !== undefined) config.warmup = f.warmup;
  return { config, json: f.json, help: f.help === true };
}

/** Runs the whole-model rows and returns them as a table. */
export async function runModelSuite(o: ModelSuiteOptions, ctx: SuiteContext, bench: ModelBench, env: RunEnvironment): Promise<SuiteReport> {
  const records: MeasurementRecord[] = [];
  const info: string[] = [];
  await bench.run(o.config, env, {
    push: (r) => records.push(r),
    emit: (label) => ctx.log(`  ${label}`),
    stop: () => false,
    info: (key, value) => info.push(`${key}: ${value}`),
  });
  const rows: SuiteRow[] = records.map((r) => ({
    model: r.variant,
    backend: r.backend,
    depth: r.depth ?? null,
    length: r.length,
    status: r.status,
    runs: r.runs,
    'step ms': r.medianMs,
    'tokens/s': r.medianMs ? r.length / (r.medianMs / 1000) : null,
    'peak MiB': r.peakBytes !== null && r.baseBytes !== null ? mib(r.peakBytes - r.baseBytes) : null,
    note: r.reason ?? '',
  }));
  return {
    suite: 'model',
    title: `Whole-model training step${info.length ? `\n${info.map((l) => `  ${l}`).join('\n')}` : ''}`,
    tables: [
      {
        title: 'one forward + backward + AdamW step; peak = bytes above the live bytes at the start of a step',
        columns: ['model', 'backend', 'depth', 'length', 'status', 'runs', 'step ms', 'tokens/s', 'peak MiB', 'note'],
        rows,
      },
    ],
    notes: [],
  };
}
