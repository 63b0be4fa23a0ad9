#!/usr/bin/env node
/**
 * The benchmark CLI: `pnpm bench [-- flags]` (see `USAGE` in args.ts and the app's README).
 * `reformer-bench report [--out DIR]` regenerates docs/results/bench.md and its charts.
 *
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { createCpuBackend } from '@reformer/core';
import { parseArgs, splitSuite, USAGE, UsageError, type SuiteName } from './args.js';
import { tfjsPlainBaseline } from './baselines/tfjs.js';
import { onnxBaseline } from './baselines/onnx.js';
import { enableRelaxedSimd, nodeBackendStarter, prepareTfjsWasm, tf } from './node/backends.js';
import { nodeMachineInfo } from './node/machine.js';
import { loadNodeModelBench } from './node/model.js';
import { generateTable, parseGenerateArgs, runGenerateBench } from './node/generate-text.js';
import { reasonOf } from './backends.js';
import { Progress } from './progress.js';
import { buildCharts } from './report/charts.js';
import { toJson } from './report/json.js';
import { markdownReport, resultsTable, findings } from './report/markdown.js';
import { runBenchmark, type RunEnvironment } from './runner.js';
import { reportConfig, writeReport } from './node/report.js';
import { suiteCli } from './node/suites.js';
import type { BenchConfig, BenchResult } from './types.js';

function write(file: string, text: string): void {
  mkdirSync(dirname(resolve(file)), { recursive: true });
  writeFileSync(file, text);
}

async function environment(config?: Pick<BenchConfig, 'wasmThreads'>): Promise<RunEnvironment> {
  const gc = (globalThis as { gc?: () => void }).gc;
  return {
    startBackend: nodeBackendStarter({ wasmThreads: config?.wasmThreads }),
    baselines: [tfjsPlainBaseline(tf, 'wasm', prepareTfjsWasm), onnxBaseline(1)],
    model: await loadNodeModelBench(),
    referenceBackend: (() => {
      let cpu: ReturnType<typeof createCpuBackend> | undefined;
      return () => (cpu ??= createCpuBackend());
    })(),
    gc,
  };
}

/** Runs a configuration with progress and Ctrl-C handling; returns the result. */
export async function runWithProgress(config: BenchConfig): Promise<BenchResult> {
  const env = await environment(config);
  const progress = new Progress(process.stderr);
  let stopRequested = false;
  const onSigint = () => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    process.stderr.write('\nInterrupted: finishing the current case, then printing what finished (Ctrl-C again quits now).\n');
  };
  process.on('SIGINT', onSigint);
  const startedAt = new Date();
  try {
    const out = await runBenchmark(config, env, { onProgress: (e) => progress.update(e), shouldStop: () => stopRequested });
    progress.finish();
    const finishedAt = new Date();
    return {
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      interrupted: out.interrupted,
      wallSeconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
      config,
      machine: nodeMachineInfo(out.backendInfo),
      records: out.records,
    };
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** `generate` (subcommand or `--suite generate`): streamText tokens/s with the cache per backend. */
async function generateCli(args: readonly string[]): Promise<number> {
  let opts;
  try {
    opts = parseGenerateArgs(args);
  } catch (err) {
    process.stderr.write(`reformer-bench generate: ${reasonOf(err)}\n`);
    return 2;
  }
  const { rows, info } = await runGenerateBench(opts, (line) => process.stderr.write(`${line}\n`));
  const m = nodeMachineInfo(info);
  process.stdout.write(
    `\nstreamText with the cache — google/reformer-crime-and-punishment architecture, random weights — ${m.cpuModel}, ${m.cores} cores, ${m.runtime}\n` +
      Object.entries(m.backends)
        .map(([k, v]) => `  ${k}: ${v}\n`)
        .join('') +
      `\n${generateTable(rows, opts.newTokens)}\n`,
  );
  return 0;
}

async function main(args: string[]): Promise<number> {
  // A process-wide switch of every suite: relaxed SIMD for the wasm kernels unless --plain-simd.
  await enableRelaxedSimd(args.includes('--plain-simd'));
  let argv = args.filter((a) => a !== '--plain-simd');
  if (argv[0] === 'generate' || (argv[0] === '--' && argv[1] === 'generate')) return generateCli(argv.slice(argv.indexOf('generate') + 1));
  if (argv[0] === 'report' || (argv[0] === '--' && argv[1] === 'report')) {
    const rest = argv.slice(argv.indexOf('report') + 1);
    const outIdx = rest.indexOf('--out');
    const outDir = outIdx >= 0 && rest[outIdx + 1] ? rest[outIdx + 1]! : join(process.cwd(), '../../docs/results');
    const result = await runWithProgress(reportConfig(rest.includes('--quick')));
    writeReport(result, outDir);
    process.stdout.write(`${resultsTable(result.records)}\n\nWrote ${join(outDir, 'bench.md')} and ${join(outDir, 'bench')}/*.svg\n`);
    return result.interrupted ? 130 : 0;
  }
  let suite: SuiteName;
  let options;
  try {
    ({ suite, rest: argv } = splitSuite(argv));
    if (suite === 'generate') return generateCli(argv);
    if (suite !== 'attention') return suiteCli(suite, argv, environment);
    options = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`reformer-bench: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const result = await runWithProgress(options.config);
  const m = result.machine;
  process.stdout.write(
    `\nReformer attention benchmark — ${m.cpuModel}, ${m.cores} cores, ${m.runtime}; ${result.wallSeconds.toFixed(0)} s${result.interrupted ? ' (interrupted: what finished so far)' : ''}\n` +
      Object.entries(m.backends)
        .map(([k, v]) => `  ${k}: ${v}\n`)
        .join('') +
      `\n${resultsTable(result.records)}\n\n${findings(result.records)}\n`,
  );
  if (options.json) write(options.json, toJson(result));
  const charts = options.svg ? buildCharts(result.records) : [];
  if (options.svg) for (const c of charts) write(join(options.svg, c.file), c.svg);
  if (options.markdown) {
    // Chart links relative to the markdown file, so the document renders where it is written.
    const from = dirname(resolve(options.markdown));
    const links = options.svg
      ? charts.map((c) => ({ title: c.title, file: relative(from, resolve(options.svg!, c.file)).split('\\').join('/') }))
      : [];
    write(options.markdown, markdownReport(result, links));
  }
  return result.interrupted ? 130 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`reformer-bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
