/**
 * Node-only: `pnpm bench -- --suite NAME [flags]` for the suites other than `attention` (the default
 * run) and `generate` (index.ts): parse the suite's flags, run it, print its tables, write `--json`.
 *
 * @module
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError, type SuiteName } from '../args.js';
import { describeAdapter, type BackendStarter } from '../backends.js';
import type { RunEnvironment } from '../runner.js';
import { CHUNKED_USAGE, parseChunkedArgs, runChunkedSuite } from '../suites/chunked.js';
import { kernelsReport, KERNELS_USAGE, parseKernelsArgs, runKernelsSuite } from '../suites/kernels.js';
import { LOAD_USAGE, parseLoadArgs, runLoadSuite } from '../suites/load.js';
import { MODEL_USAGE, parseModelSuiteArgs, runModelSuite } from '../suites/model.js';
import { parseProfileArgs, PROFILE_USAGE, runProfileSuite, type KernelProfiler } from '../suites/profile.js';
import { parsePytorchArgs, PYTORCH_USAGE, runPytorchSuite } from '../suites/pytorch.js';
import { parseReversibleArgs, REVERSIBLE_USAGE, runReversibleSuite } from '../suites/reversible.js';
import { formatReport, type SuiteContext, type SuiteReport } from '../suites/suite.js';
import { parseThreadsArgs, runThreadsSuite, THREADS_USAGE, type ThreadsEnvironment } from '../suites/threads.js';
import { startNodeBackend, startWasmBackend, tf, withWasmThreads } from './backends.js';
import { nodeKernelPeers } from './kernel-peers.js';
import { nodeMachineInfo } from './machine.js';
import { loadNodeModelBench } from './model.js';
import { startTorchPeer } from './torch-peer.js';

/** The suites this module runs. */
export type NodeSuiteName = Exclude<SuiteName, 'attention' | 'generate'>;

/** The usage text of each suite. */
export const SUITE_USAGE: Record<NodeSuiteName, string> = {
  kernels: KERNELS_USAGE,
  threads: THREADS_USAGE,
  reversible: REVERSIBLE_USAGE,
  chunked: CHUNKED_USAGE,
  model: MODEL_USAGE,
  load: LOAD_USAGE,
  profile: PROFILE_USAGE,
  pytorch: PYTORCH_USAGE,
};

/** tfjs's own per-kernel profile (`tf.profile`) of a step, summed by kernel name. */
export const tfjsKernelProfiler: KernelProfiler = async (step) => {
  const info = await tf.profile(step);
  const byName = new Map<string, { calls: number; ms: number }>();
  for (const k of info.kernels) {
    const e = byName.get(k.name) ?? { calls: 0, ms: 0 };
    e.calls++;
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    byName.set(k.name, e);
  }
  return [...byName].map(([name, e]) => ({ name, ...e }));
};

/** CPU time of this process (every thread) and of the calling thread (Linux: its schedstat; NaN elsewhere). */
export const nodeCpuClocks: ThreadsEnvironment['clocks'] = {
  processMs() {
    const c = process.cpuUsage();
    return (c.user + c.system) / 1e3;
  },
  threadMs() {
    try {
      return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
    } catch {
      return Number.NaN;
    }
  },
};

/** The threads suite's environment in Node. */
export const nodeThreadsEnvironment: ThreadsEnvironment = {
  async startWasm(threads) {
    const started = await startWasmBackend(threads);
    return { ...started, threads: started.backend.kernelFeatures.threads };
  },
  clocks: nodeCpuClocks,
};

/** `start`, except that WebGPU starts on Dawn's `adapter` backend and/or with float16 matmul tiles. */
function webgpuStarter(start: BackendStarter, adapter: string | undefined, f16: boolean): BackendStarter {
  return async (name) => {
    if (name !== 'webgpu') return start(name);
    const { createNodeWebGPUBackend } = await import('@reformer/backend-webgpu/node');
    const backend = await createNodeWebGPUBackend({
      ...(adapter ? { flags: [`backend=${adapter}`] } : {}),
      ...(f16 ? { matmulPrecision: 'f16' as const } : {}),
    });
    return { backend, info: `${describeAdapter(backend.adapterInfo, backend.hasTimestamps)}${f16 ? ', float16 matmul tiles' : ''}` };
  };
}

/** Parses and runs one suite; returns the report (printing is the caller's). */
export async function runNodeSuite(
  suite: NodeSuiteName,
  argv: readonly string[],
  ctx: SuiteContext,
  environment: () => Promise<RunEnvironment>,
): Promise<{ report: SuiteReport | null; json?: string | undefined }> {
  switch (suite) {
    case 'kernels': {
      const o = parseKernelsArgs(argv);
      if (o.help) return { report: null };
      const start = o.wasmThreads === 1 ? ctx.startBackend : withWasmThreads(ctx.startBackend, o.wasmThreads);
      const kernelCtx = { ...ctx, startBackend: o.adapter || o.f16 ? webgpuStarter(start, o.adapter, o.f16) : start };
      return { report: kernelsReport(o, await runKernelsSuite(o, kernelCtx, nodeKernelPeers())), json: o.json };
    }
    case 'threads': {
      const o = parseThreadsArgs(argv);
      return o.help ? { report: null } : { report: await runThreadsSuite(o, ctx, nodeThreadsEnvironment), json: o.json };
    }
    case 'reversible': {
      const o = parseReversibleArgs(argv);
      return o.help ? { report: null } : { report: await runReversibleSuite(o, ctx), json: o.json };
    }
    case 'chunked': {
      const o = parseChunkedArgs(argv);
      return o.help ? { report: null } : { report: await runChunkedSuite(o, ctx), json: o.json };
    }
    case 'model': {
      const o = parseModelSuiteArgs(argv);
      return o.help
        ? { report: null }
        : { report: await runModelSuite(o, ctx, await loadNodeModelBench(), await environment()), json: o.json };
    }
    case 'load': {
      const o = parseLoadArgs(argv);
      return o.help ? { report: null } : { report: await runLoadSuite(o, ctx), json: o.json };
    }
    case 'profile': {
      const o = parseProfileArgs(argv);
      if (o.help) return { report: null };
      return { report: await runProfileSuite(o, ctx, o.backend.startsWith('tfjs') ? tfjsKernelProfiler : undefined), json: o.json };
    }
    case 'pytorch': {
      const o = parsePytorchArgs(argv, process.env);
      if (o.help) return { report: null };
      const start = o.threads === 1 ? ctx.startBackend : withWasmThreads(ctx.startBackend, o.threads);
      return { report: await runPytorchSuite(o, { ...ctx, startBackend: start }, startTorchPeer), json: o.json };
    }
  }
}

/** The CLI of a suite: exit code 0, or 2 for a bad flag (with the suite's usage). */
export async function suiteCli(suite: NodeSuiteName, argv: readonly string[], environment: () => Promise<RunEnvironment>): Promise<number> {
  const ctx: SuiteContext = {
    startBackend: startNodeBackend,
    log: (line) => process.stderr.write(`${line}\n`),
    gc: (globalThis as { gc?: () => void }).gc,
    cpuClockMs: nodeCpuClocks.processMs,
  };
  let out;
  try {
    out = await runNodeSuite(suite, argv, ctx, environment);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`reformer-bench: ${err.message}\n\n${SUITE_USAGE[suite]}\n`);
      return 2;
    }
    throw err;
  }
  if (!out.report) {
    process.stdout.write(`${SUITE_USAGE[suite]}\n`);
    return 0;
  }
  const m = nodeMachineInfo({});
  process.stdout.write(`\n${m.cpuModel}, ${m.cores} cores, ${m.runtime}\n${formatReport(out.report)}\n`);
  if (out.json) {
    mkdirSync(dirname(resolve(out.json)), { recursive: true });
    writeFileSync(out.json, `${JSON.stringify({ machine: m, ...out.report }, null, 2)}\n`);
  }
  return 0;
}
