/**
 * The benchmark loop, shared by the CLI and the browser page: for every backend, length, variant and
 * pass it times the variant (median and spread after warm-up), reads the backend's peak bytes, and
 * measures the output's error against exact attention on the same inputs where exact attention fits;
 * then the peer baselines and the whole-model rows. A backend that cannot start becomes an
 * `unavailable` row and the rest runs; `shouldStop()` ends the run between cases (Ctrl-C).
 *
 * @module
 */
import { dispose, gradients, memory, resetPeak, setBackend, tensor, type Backend, type Tensor } from '@reformer/core';
import { attentionError } from './accuracy.js';
import { reasonOf, type BackendStarter } from './backends.js';
import type { Baseline } from './baselines/baseline.js';
import { makeInputs, type HostInputs } from './inputs.js';
import { median, timeRuns, type MemoryProbe, type Timing } from './measure.js';
import type { ModelBench } from './model.js';
import { VARIANTS, exactAttention, type ReferenceKind, type VariantContext } from './variants.js';
import type { BenchConfig, MeasurementRecord } from './types.js';

/** Where the run happens: how to start backends, which baselines and model rows exist. */
export interface RunEnvironment {
  startBackend: BackendStarter;
  baselines: Baseline[];
  /** Whole-model rows (omitted where `@reformer/model` is not available). */
  model?: ModelBench | undefined;
  /** A backend for the exact reference when no measured backend computed it (e.g. only baselines ran). */
  referenceBackend: () => Backend;
  /** Called before every timed run (Node: a full garbage collection). */
  gc?: (() => void) | undefined;
}

/** Progress while a run goes. */
export type ProgressEvent =
  | { type: 'start'; total: number }
  | { type: 'case'; label: string; done: number; total: number }
  | { type: 'record'; record: MeasurementRecord; done: number; total: number }
  | { type: 'info'; message: string };

/** Callbacks of a run. */
export interface RunHooks {
  onProgress?: (event: ProgressEvent) => void;
  /** Checked between cases; true ends the run with what finished. */
  shouldStop?: () => boolean;
}

/** What a run returns. */
export interface RunOutput {
  records: MeasurementRecord[];
  /** Per backend or baseline: what it is, or why it was unavailable. */
  backendInfo: Record<string, string>;
  interrupted: boolean;
}

const DENSE_LOGIT_LIMIT = 2 ** 31; // bytes of one [L, L] float32 logit matrix we allow

/** A record with every measured field empty. */
export function emptyRecord(base: Pick<MeasurementRecord, 'kind' | 'backend' | 'variant' | 'length' | 'pass' | 'batch' | 'heads' | 'dHead'>): MeasurementRecord {
  return {
    ...base,
    status: 'ok',
    runs: 0,
    timesMs: [],
    medianMs: null,
    minMs: null,
    maxMs: null,
    spread: null,
    tokensPerSec: null,
    usPerToken: null,
    peakBytes: null,
    baseBytes: null,
    maxAbsError: null,
    meanRelError: null,
    timing: 'wall',
  };
}

/** Fills a record's timing fields; tokens = batch · length. */
export function withTiming(r: MeasurementRecord, t: Timing): MeasurementRecord {
  const tokens = r.batch * r.length;
  return {
    ...r,
    runs: t.timesMs.length,
    timesMs: t.timesMs.map((x) => Math.round(x * 1000) / 1000),
    medianMs: t.medianMs,
    minMs: t.minMs,
    maxMs: t.maxMs,
    spread: t.spread,
    tokensPerSec: t.medianMs > 0 ? tokens / (t.medianMs / 1000) : null,
    usPerToken: (t.medianMs * 1000) / tokens,
    peakBytes: t.peakBytes,
    baseBytes: t.baseBytes,
  };
}

function probeOf(backend: Backend): MemoryProbe {
  return {
    reset: () => resetPeak(backend),
    live: () => memory(backend).liveBytes,
    peak: () => memory(backend).peakBytes,
  };
}

/** The GPU timer of a WebGPU backend with timestamp queries (`@reformer/backend-webgpu`), if any. */
export function gpuTimerOf(backend: Backend): ((record: () => void) => Promise<number>) | undefined {
  const b = backend as { hasTimestamps?: boolean; runtime?: { gpuTime?: (record: () => void) => Promise<number> } };
  const runtime = b.runtime;
  if (b.hasTimestamps !== true || typeof runtime?.gpuTime !== 'function') return undefined;
  return (record) => runtime.gpuTime!(record);
}

/** Number of cases a run will attempt (for progress). */
export function countCases(config: BenchConfig, env: RunEnvironment): number {
  const attention = config.backends.length * config.lengths.length * config.variants.length * config.passes.length;
  const baselines = config.baselines ? env.baselines.reduce((n, b) => n + b.passes.filter((p) => config.passes.includes(p)).length, 0) * config.lengths.length : 0;
  const model = config.model && env.model ? env.model.count(config) : 0;
  return attention + baselines + model;
}

/**
 * Runs the benchmark.
 *
 * @returns every record (also those of an interrupted run, up to where it stopped).
 */
export async function runBenchmark(config: BenchConfig, env: RunEnvironment, hooks: RunHooks = {}): Promise<RunOutput> {
  const records: MeasurementRecord[] = [];
  const backendInfo: Record<string, string> = {};
  const total = countCases(config, env);
  let done = 0;
  const emit = hooks.onProgress ?? (() => {});
  const stop = () => hooks.shouldStop?.() ?? false;
  // Let the event loop run between cases (a CPU backend's data() resolves without one), so that a
  // Ctrl-C handler or a page's Stop button can set shouldStop while the benchmark is running.
  const stopNow = async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
    return stop();
  };
  const push = (r: MeasurementRecord) => {
    records.push(r);
    done++;
    emit({ type: 'record', record: r, done, total });
  };
  const shape = { batch: config.batch, heads: config.heads, dHead: config.dHead };
  emit({ type: 'start', total });

  const hostCache = new Map<number, HostInputs>();
  const host = (L: number) => {
    let h = hostCache.get(L);
    if (!h) {
      h = makeInputs(config.batch, config.heads, L, config.dHead, { seed: config.seed, kind: config.inputs, chunkLength: config.chunkLength });
      hostCache.set(L, h);
    }
    return h;
  };
  /** Exact outputs per `${L}:${kind}`; null = did not fit. */
  const references = new Map<string, Float32Array | null>();
  const fullEstimate = new Map<string, { L: number; ms: number }>();
  const estimateMs = (who: string, L: number) => {
    const e = fullEstimate.get(who);
    return e ? e.ms * (L / e.L) ** 2 : 0;
  };
  const fullFits = (who: string, L: number): string | undefined => {
    if (L * L * 4 > DENSE_LOGIT_LIMIT) return `full attention's ${L}×${L} logits exceed 2 GiB`;
    const est = estimateMs(who, L);
    if (est > config.fullBudgetMs) return `full attention estimated at ${(est / 1000).toFixed(0)} s > --full-budget ${(config.fullBudgetMs / 1000).toFixed(0)} s`;
    return undefined;
  };

  /** The exact reference on `backend` (computed there if not cached and it fits). */
  const reference = async (backend: Backend, who: string, L: number, kind: ReferenceKind): Promise<Float32Array | null> => {
    const key = `${L}:${kind}`;
    if (references.has(key)) return references.get(key)!;
    if (fullFits(who, L) !== undefined) return null;
    await setBackend(backend);
    const h = host(L);
    const [qk, keys, v] = [h.qk, h.keys, h.v].map((a) => tensor(a, h.shape)) as [Tensor, Tensor, Tensor];
    const t0 = performance.now();
    const out = exactAttention(qk, keys, v, kind === 'full-excl-self');
    const data = (await out.data()) as Float32Array;
    const ms = performance.now() - t0;
    dispose([qk, keys, v, out]);
    const prev = fullEstimate.get(who);
    if (!prev || prev.L <= L) fullEstimate.set(who, { L, ms });
    references.set(key, data);
    return data;
  };

  // ----------------------------------------------------------------------------------------------
  // Our attention variants on every backend.
  for (const name of config.backends) {
    if (await stopNow()) break;
    emit({ type: 'case', label: `${name}: starting`, done, total });
    let backend: Backend;
    try {
      const started = await env.startBackend(name);
      backend = started.backend;
      backendInfo[name] = started.info;
      emit({ type: 'info', message: `${name}: ${started.info}` });
    } catch (err) {
      const reason = reasonOf(err);
      backendInfo[name] = `unavailable: ${reason}`;
      const r = { ...emptyRecord({ kind: 'attention', backend: name, variant: '*', length: 0, pass: config.passes[0]!, ...shape }), status: 'unavailable' as const, reason };
      records.push(r);
      done += config.lengths.length * config.variants.length * config.passes.length;
      emit({ type: 'record', record: r, done, total });
      continue;
    }
    await setBackend(backend);
    for (const L of config.lengths) {
      if (await stopNow()) break;
      const h = host(L);
      const [qk, v, dOut] = [h.qk, h.v, h.dOut].map((a) => tensor(a, h.shape)) as [Tensor, Tensor, Tensor];
      const ctx: VariantContext = { length: L, chunkLength: config.chunkLength, queryChunk: Math.min(config.queryChunk, L), seed: config.seed * 7919 + L };
      try {
        for (const vName of config.variants) {
          const variant = VARIANTS[vName];
          const base = { kind: 'attention' as const, backend: name, variant: vName, length: L, ...shape };
          if (await stopNow()) break;
          const tooBig = variant.quadratic ? fullFits(name, L) : undefined;
          if (tooBig) {
            for (const pass of config.passes) push({ ...emptyRecord({ ...base, pass }), status: 'skipped', reason: tooBig });
            continue;
          }
          emit({ type: 'case', label: `${name} ${vName} L=${L}: accuracy`, done, total });
          let err: { maxAbs: number; meanRel: number } | null = null;
          let failure: string | undefined;
          let forwardMs = 0;
          try {
            const ref = await reference(backend, name, L, variant.reference);
            await setBackend(backend);
            const t0 = performance.now();
            const out = variant.run(qk, v, ctx);
            const data = (await out.data()) as Float32Array;
            const ms = performance.now() - t0;
            forwardMs = ms;
            out.dispose();
            if (vName === 'full') fullEstimate.set(name, { L, ms });
            if (ref) err = attentionError(data, ref, config.dHead);
          } catch (e) {
            failure = reasonOf(e);
          }
          for (const pass of config.passes) {
            if (await stopNow()) break;
            const rec = emptyRecord({ ...base, pass });
            if (failure !== undefined) {
              push({ ...rec, status: 'error', reason: failure });
              continue;
            }
            emit({ type: 'case', label: `${name} ${vName} L=${L} ${pass}`, done, total });
            const run =
              pass === 'forward'
                ? async () => {
                    const out = variant.run(qk, v, ctx);
                    await out.data();
                    out.dispose();
                  }
                : async () => {
                    const { value, grads } = gradients(() => variant.run(qk, v, ctx), [qk, v], dOut);
                    for (const g of grads) await g.data();
                    dispose([value, grads]);
                  };
            try {
              // The accuracy run above already warmed the forward pass up; a case whose forward alone
              // takes half the budget gets no further warm-up (compilation is noise next to it).
              const warmup = pass === 'forward' || forwardMs * 2 > config.caseBudgetMs ? Math.max(0, config.warmup - 1) : config.warmup;
              const t = await timeRuns(run, { warmup, repeats: config.repeats, budgetMs: config.caseBudgetMs, memory: probeOf(backend), beforeRun: env.gc });
              // The warmed-up median is the better basis for the next length's estimate: the first run
              // above includes pipeline compilation (seconds on a software GPU under load).
              if (vName === 'full' && pass === 'forward') fullEstimate.set(name, { L, ms: t.medianMs });
              // GPU timestamps where the adapter has them: the kernels of the same pass, recorded in one
              // compute pass, in as many extra runs as there were timed runs.
              const timer = gpuTimerOf(backend);
              let gpuMs: number | null = null;
              if (timer) {
                const gpu: number[] = [];
                for (let i = 0; i < t.timesMs.length; i++) {
                  let outs: unknown;
                  gpu.push(
                    await timer(() => {
                      outs = pass === 'forward' ? variant.run(qk, v, ctx) : gradients(() => variant.run(qk, v, ctx), [qk, v], dOut);
                    }),
                  );
                  dispose(outs);
                }
                gpuMs = median(gpu);
              }
              push({
                ...withTiming(rec, t),
                maxAbsError: err?.maxAbs ?? null,
                meanRelError: err?.meanRel ?? null,
                reference: variant.reference === 'full' ? 'full attention' : 'full attention, no self (shared QK)',
                ...(timer ? { gpuMs, timing: 'wall+gpu' as const } : {}),
              });
            } catch (e) {
              push({ ...rec, status: 'error', reason: reasonOf(e) });
            }
          }
        }
      } finally {
        dispose([qk, v, dOut]);
      }
    }
  }

  // ----------------------------------------------------------------------------------------------
  // Peer baselines.
  if (config.baselines) {
    for (const b of env.baselines) {
      if (await stopNow()) break;
      const passes = b.passes.filter((p) => config.passes.includes(p));
      if (passes.length === 0) continue;
      emit({ type: 'case', label: `${b.backend} ${b.name}: starting`, done, total });
      try {
        const info = await b.start();
        backendInfo[`${b.backend} (${b.name})`] = info;
        emit({ type: 'info', message: `${b.backend}: ${info}` });
      } catch (err) {
        const reason = reasonOf(err);
        backendInfo[`${b.backend} (${b.name})`] = `unavailable: ${reason}`;
        const r = { ...emptyRecord({ kind: 'baseline', backend: b.backend, variant: b.name, length: 0, pass: passes[0]!, ...shape }), status: 'unavailable' as const, reason };
        records.push(r);
        done += passes.length * config.lengths.length;
        emit({ type: 'record', record: r, done, total });
        continue;
      }
      const who = `baseline:${b.backend}:${b.name}`;
      for (const L of config.lengths) {
        if (await stopNow()) break;
        const base = { kind: 'baseline' as const, backend: b.backend, variant: b.name, length: L, ...shape };
        const tooBig = fullFits(who, L);
        if (tooBig) {
          for (const pass of passes) push({ ...emptyRecord({ ...base, pass }), status: 'skipped', reason: tooBig.replace('full attention', 'dense attention') });
          continue;
        }
        emit({ type: 'case', label: `${b.backend} ${b.name} L=${L}`, done, total });
        let prepared: Awaited<ReturnType<Baseline['prepare']>> | undefined;
        try {
          const ref = await reference(env.referenceBackend(), `ref:${who}`, L, 'full');
          prepared = await b.prepare(host(L));
          const t0 = performance.now();
          const out = await prepared.output();
          fullEstimate.set(who, { L, ms: performance.now() - t0 });
          const err = ref ? attentionError(out, ref, config.dHead) : null;
          for (const pass of passes) {
            if (await stopNow()) break;
            const p = prepared;
            emit({ type: 'case', label: `${b.backend} ${b.name} L=${L} ${pass}`, done, total });
            try {
              const warmup = pass === 'forward' ? Math.max(0, config.warmup - 1) : config.warmup;
              const t = await timeRuns(() => p.run(pass), { warmup, repeats: config.repeats, budgetMs: config.caseBudgetMs, beforeRun: env.gc });
              const peak = await p.peakBytes(pass);
              push({
                ...withTiming(emptyRecord({ ...base, pass }), t),
                peakBytes: peak,
                maxAbsError: err?.maxAbs ?? null,
                meanRelError: err?.meanRel ?? null,
                reference: 'full attention',
              });
            } catch (e) {
              push({ ...emptyRecord({ ...base, pass }), status: 'error', reason: reasonOf(e) });
            }
          }
        } catch (e) {
          for (const pass of passes) push({ ...emptyRecord({ ...base, pass }), status: 'error', reason: reasonOf(e) });
        } finally {
          prepared?.dispose();
        }
      }
    }
  }

  // ----------------------------------------------------------------------------------------------
  // Whole-model rows.
  if (config.model && env.model && !(await stopNow())) {
    await env.model.run(config, env, {
      push,
      emit: (label) => emit({ type: 'case', label, done, total }),
      stop,
      info: (k, v) => {
        backendInfo[k] = v;
      },
    });
  }
  return { records, backendInfo, interrupted: stop() };
}
