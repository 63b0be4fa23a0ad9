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
import type { BackendName, BenchConfig, MeasurementRecord, Pass, VariantName } from './types.js';

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
export function emptyRecord(
  base: Pick<MeasurementRecord, 'kind' | 'backend' | 'variant' | 'length' | 'pass' | 'batch' | 'heads' | 'dHead'>,
): MeasurementRecord {
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
  const baselines = config.baselines
    ? env.baselines.reduce((n, b) => n + b.passes.filter((p) => config.passes.includes(p)).length, 0) * config.lengths.length
    : 0;
  const model = config.model && env.model ? env.model.count(config) : 0;
  return attention + baselines + model;
}

/**
 * Runs the benchmark: our attention variants on every backend, then the peer baselines, then the
 * whole-model rows.
 *
 * @returns every record (also those of an interrupted run, up to where it stopped).
 */
export async function runBenchmark(config: BenchConfig, env: RunEnvironment, hooks: RunHooks = {}): Promise<RunOutput> {
  const run = new BenchmarkRun(config, env, hooks);
  run.emit({ type: 'start', total: run.total });
  for (const name of config.backends) {
    if (await run.stopNow()) break;
    await run.attentionOnBackend(name);
  }
  if (config.baselines) {
    for (const b of env.baselines) {
      if (await run.stopNow()) break;
      await run.baseline(b);
    }
  }
  if (config.model && env.model && !(await run.stopNow())) await run.modelRows(env.model);
  return { records: run.records, backendInfo: run.backendInfo, interrupted: run.stop() };
}

/** The state of one run (records, progress, cached inputs and references) and its steps. */
class BenchmarkRun {
  readonly records: MeasurementRecord[] = [];
  readonly backendInfo: Record<string, string> = {};
  readonly total: number;
  private done = 0;
  readonly emit: (event: ProgressEvent) => void;
  readonly stop: () => boolean;
  private readonly shape: { batch: number; heads: number; dHead: number };
  private readonly hostCache = new Map<number, HostInputs>();
  /** Exact outputs per `${L}:${kind}`; null = did not fit. */
  private readonly references = new Map<string, Float32Array | null>();
  /** Last measured full-attention time per backend or baseline, for the quadratic estimate. */
  private readonly fullEstimate = new Map<string, { L: number; ms: number }>();

  constructor(
    private readonly config: BenchConfig,
    private readonly env: RunEnvironment,
    hooks: RunHooks,
  ) {
    this.total = countCases(config, env);
    this.emit = hooks.onProgress ?? (() => {});
    this.stop = () => hooks.shouldStop?.() ?? false;
    this.shape = { batch: config.batch, heads: config.heads, dHead: config.dHead };
  }

  /**
   * Lets the event loop run between cases (a CPU backend's data() resolves without one), so that a
   * Ctrl-C handler or a page's Stop button can set shouldStop while the benchmark is running.
   */
  async stopNow(): Promise<boolean> {
    await new Promise((resolve) => setTimeout(resolve, 0));
    return this.stop();
  }

  private push(r: MeasurementRecord): void {
    this.records.push(r);
    this.done++;
    this.emit({ type: 'record', record: r, done: this.done, total: this.total });
  }

  private emitCase(label: string): void {
    this.emit({ type: 'case', label, done: this.done, total: this.total });
  }

  /** One `unavailable` record that stands for `cases` cases. */
  private pushUnavailable(r: MeasurementRecord, cases: number): void {
    this.records.push(r);
    this.done += cases;
    this.emit({ type: 'record', record: r, done: this.done, total: this.total });
  }

  private host(L: number): HostInputs {
    let h = this.hostCache.get(L);
    if (!h) {
      const c = this.config;
      h = makeInputs(c.batch, c.heads, L, c.dHead, { seed: c.seed, kind: c.inputs, chunkLength: c.chunkLength });
      this.hostCache.set(L, h);
    }
    return h;
  }

  private estimateMs(who: string, L: number): number {
    const e = this.fullEstimate.get(who);
    return e ? e.ms * (L / e.L) ** 2 : 0;
  }

  /** Why full attention does not run at `L` for `who`, or undefined if it fits. */
  private fullFits(who: string, L: number): string | undefined {
    if (L * L * 4 > DENSE_LOGIT_LIMIT) return `full attention's ${L}×${L} logits exceed 2 GiB`;
    const est = this.estimateMs(who, L);
    if (est > this.config.fullBudgetMs)
      return `full attention estimated at ${(est / 1000).toFixed(0)} s > --full-budget ${(this.config.fullBudgetMs / 1000).toFixed(0)} s`;
    return undefined;
  }

  /** The exact reference on `backend` (computed there if not cached and it fits). */
  private async reference(backend: Backend, who: string, L: number, kind: ReferenceKind): Promise<Float32Array | null> {
    const key = `${L}:${kind}`;
    if (this.references.has(key)) return this.references.get(key)!;
    if (this.fullFits(who, L) !== undefined) return null;
    await setBackend(backend);
    const h = this.host(L);
    const [qk, keys, v] = [h.qk, h.keys, h.v].map((a) => tensor(a, h.shape)) as [Tensor, Tensor, Tensor];
    const t0 = performance.now();
    const out = exactAttention(qk, keys, v, kind === 'full-excl-self');
    const data = (await out.data()) as Float32Array;
    const ms = performance.now() - t0;
    dispose([qk, keys, v, out]);
    const prev = this.fullEstimate.get(who);
    if (!prev || prev.L <= L) this.fullEstimate.set(who, { L, ms });
    this.references.set(key, data);
    return data;
  }

  // ---- our attention variants ----

  /** Starts backend `name` and measures every length × variant × pass on it. */
  async attentionOnBackend(name: BackendName): Promise<void> {
    const config = this.config;
    this.emitCase(`${name}: starting`);
    let backend: Backend;
    try {
      const started = await this.env.startBackend(name);
      backend = started.backend;
      this.backendInfo[name] = started.info;
      this.emit({ type: 'info', message: `${name}: ${started.info}` });
    } catch (err) {
      const reason = reasonOf(err);
      this.backendInfo[name] = `unavailable: ${reason}`;
      const r = {
        ...emptyRecord({ kind: 'attention', backend: name, variant: '*', length: 0, pass: config.passes[0]!, ...this.shape }),
        status: 'unavailable' as const,
        reason,
      };
      this.pushUnavailable(r, config.lengths.length * config.variants.length * config.passes.length);
      return;
    }
    await setBackend(backend);
    for (const L of config.lengths) {
      if (await this.stopNow()) break;
      await this.attentionAtLength(backend, name, L);
    }
  }

  /** Every variant × pass at length `L` on `backend`, on one set of input tensors. */
  private async attentionAtLength(backend: Backend, name: string, L: number): Promise<void> {
    const config = this.config;
    const h = this.host(L);
    const [qk, v, dOut] = [h.qk, h.v, h.dOut].map((a) => tensor(a, h.shape)) as [Tensor, Tensor, Tensor];
    const ctx: VariantContext = {
      length: L,
      chunkLength: config.chunkLength,
      queryChunk: Math.min(config.queryChunk, L),
      seed: config.seed * 7919 + L,
    };
    try {
      for (const vName of config.variants) {
        if (await this.stopNow()) break;
        await this.variantAtLength(backend, name, L, vName, { qk, v, dOut, ctx });
      }
    } finally {
      dispose([qk, v, dOut]);
    }
  }

  /** One variant at one length: skipped if quadratic and too big, else its accuracy and every pass. */
  private async variantAtLength(backend: Backend, name: string, L: number, vName: VariantName, inputs: VariantInputs): Promise<void> {
    const variant = VARIANTS[vName];
    const base = { kind: 'attention' as const, backend: name, variant: vName, length: L, ...this.shape };
    const tooBig = variant.quadratic ? this.fullFits(name, L) : undefined;
    if (tooBig) {
      for (const pass of this.config.passes) this.push({ ...emptyRecord({ ...base, pass }), status: 'skipped', reason: tooBig });
      return;
    }
    this.emitCase(`${name} ${vName} L=${L}: accuracy`);
    const accuracy = await this.variantAccuracy(backend, name, L, vName, inputs);
    for (const pass of this.config.passes) {
      if (await this.stopNow()) break;
      const rec = emptyRecord({ ...base, pass });
      if (accuracy.failure !== undefined) {
        this.push({ ...rec, status: 'error', reason: accuracy.failure });
        continue;
      }
      this.emitCase(`${name} ${vName} L=${L} ${pass}`);
      await this.timeVariantPass(backend, name, L, vName, pass, rec, inputs, accuracy);
    }
  }

  /**
   * One untimed forward of the variant (the forward's warm-up) and its error against the exact
   * reference where that fits; `failure` if the variant threw.
   */
  private async variantAccuracy(
    backend: Backend,
    name: string,
    L: number,
    vName: VariantName,
    { qk, v, ctx }: VariantInputs,
  ): Promise<VariantAccuracy> {
    const variant = VARIANTS[vName];
    const result: VariantAccuracy = { err: null, forwardMs: 0 };
    try {
      const ref = await this.reference(backend, name, L, variant.reference);
      await setBackend(backend);
      const t0 = performance.now();
      const out = variant.run(qk, v, ctx);
      const data = (await out.data()) as Float32Array;
      const ms = performance.now() - t0;
      result.forwardMs = ms;
      out.dispose();
      if (vName === 'full') this.fullEstimate.set(name, { L, ms });
      if (ref) result.err = attentionError(data, ref, this.config.dHead);
    } catch (e) {
      result.failure = reasonOf(e);
    }
    return result;
  }

  /** Times one pass of a variant (wall clock, and GPU timestamps where the adapter has them). */
  private async timeVariantPass(
    backend: Backend,
    name: string,
    L: number,
    vName: VariantName,
    pass: Pass,
    rec: MeasurementRecord,
    { qk, v, dOut, ctx }: VariantInputs,
    { err, forwardMs }: VariantAccuracy,
  ): Promise<void> {
    const config = this.config;
    const variant = VARIANTS[vName];
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
      // The accuracy run already warmed the forward pass up; a case whose forward alone takes half
      // the budget gets no further warm-up (compilation is noise next to it).
      const warmup = pass === 'forward' || forwardMs * 2 > config.caseBudgetMs ? Math.max(0, config.warmup - 1) : config.warmup;
      const t = await timeRuns(run, {
        warmup,
        repeats: config.repeats,
        budgetMs: config.caseBudgetMs,
        memory: probeOf(backend),
        beforeRun: this.env.gc,
      });
      // The warmed-up median is the better basis for the next length's estimate: the first run
      // includes pipeline compilation (seconds on a software GPU under load).
      if (vName === 'full' && pass === 'forward') this.fullEstimate.set(name, { L, ms: t.medianMs });
      const timer = gpuTimerOf(backend);
      const gpuMs = timer
        ? await gpuMedianMs(timer, t.timesMs.length, () =>
            pass === 'forward' ? variant.run(qk, v, ctx) : gradients(() => variant.run(qk, v, ctx), [qk, v], dOut),
          )
        : null;
      this.push({
        ...withTiming(rec, t),
        maxAbsError: err?.maxAbs ?? null,
        meanRelError: err?.meanRel ?? null,
        reference: variant.reference === 'full' ? 'full attention' : 'full attention, no self (shared QK)',
        ...(timer ? { gpuMs, timing: 'wall+gpu' as const } : {}),
      });
    } catch (e) {
      this.push({ ...rec, status: 'error', reason: reasonOf(e) });
    }
  }

  // ---- peer baselines ----

  /** Starts baseline `b` and measures it at every length. */
  async baseline(b: Baseline): Promise<void> {
    const config = this.config;
    const passes = b.passes.filter((p) => config.passes.includes(p));
    if (passes.length === 0) return;
    this.emitCase(`${b.backend} ${b.name}: starting`);
    try {
      const info = await b.start();
      this.backendInfo[`${b.backend} (${b.name})`] = info;
      this.emit({ type: 'info', message: `${b.backend}: ${info}` });
    } catch (err) {
      const reason = reasonOf(err);
      this.backendInfo[`${b.backend} (${b.name})`] = `unavailable: ${reason}`;
      const r = {
        ...emptyRecord({ kind: 'baseline', backend: b.backend, variant: b.name, length: 0, pass: passes[0]!, ...this.shape }),
        status: 'unavailable' as const,
        reason,
      };
      this.pushUnavailable(r, passes.length * config.lengths.length);
      return;
    }
    for (const L of config.lengths) {
      if (await this.stopNow()) break;
      await this.baselineAtLength(b, passes, L);
    }
  }

  /** Baseline `b` at length `L`: its error against the exact reference, then every pass timed. */
  private async baselineAtLength(b: Baseline, passes: Pass[], L: number): Promise<void> {
    const config = this.config;
    const who = `baseline:${b.backend}:${b.name}`;
    const base = { kind: 'baseline' as const, backend: b.backend, variant: b.name, length: L, ...this.shape };
    const tooBig = this.fullFits(who, L);
    if (tooBig) {
      for (const pass of passes)
        this.push({ ...emptyRecord({ ...base, pass }), status: 'skipped', reason: tooBig.replace('full attention', 'dense attention') });
      return;
    }
    this.emitCase(`${b.backend} ${b.name} L=${L}`);
    let prepared: Awaited<ReturnType<Baseline['prepare']>> | undefined;
    try {
      const ref = await this.reference(this.env.referenceBackend(), `ref:${who}`, L, 'full');
      prepared = await b.prepare(this.host(L));
      const t0 = performance.now();
      const out = await prepared.output();
      this.fullEstimate.set(who, { L, ms: performance.now() - t0 });
      const err = ref ? attentionError(out, ref, config.dHead) : null;
      for (const pass of passes) {
        if (await this.stopNow()) break;
        const p = prepared;
        this.emitCase(`${b.backend} ${b.name} L=${L} ${pass}`);
        try {
          const warmup = pass === 'forward' ? Math.max(0, config.warmup - 1) : config.warmup;
          const t = await timeRuns(() => p.run(pass), {
            warmup,
            repeats: config.repeats,
            budgetMs: config.caseBudgetMs,
            beforeRun: this.env.gc,
          });
          const peak = await p.peakBytes(pass);
          this.push({
            ...withTiming(emptyRecord({ ...base, pass }), t),
            peakBytes: peak,
            maxAbsError: err?.maxAbs ?? null,
            meanRelError: err?.meanRel ?? null,
            reference: 'full attention',
          });
        } catch (e) {
          this.push({ ...emptyRecord({ ...base, pass }), status: 'error', reason: reasonOf(e) });
        }
      }
    } catch (e) {
      for (const pass of passes) this.push({ ...emptyRecord({ ...base, pass }), status: 'error', reason: reasonOf(e) });
    } finally {
      prepared?.dispose();
    }
  }

  // ---- whole-model rows ----

  async modelRows(model: ModelBench): Promise<void> {
    await model.run(this.config, this.env, {
      push: (r) => this.push(r),
      emit: (label) => this.emitCase(label),
      stop: this.stop,
      info: (k, v) => {
        this.backendInfo[k] = v;
      },
    });
  }
}

/** The tensors and context every pass of the variants at one length runs on. */
interface VariantInputs {
  qk: Tensor;
  v: Tensor;
  dOut: Tensor;
  ctx: VariantContext;
}

/** What the accuracy run of a variant found. */
interface VariantAccuracy {
  err: { maxAbs: number; meanRel: number } | null;
  /** Wall time of that (first, untimed) forward. */
  forwardMs: number;
  /** Why the variant failed, if it threw. */
  failure?: string;
}

/**
 * GPU timestamps of `runs` extra runs of `record` (the kernels of the same pass, recorded in one
 * compute pass), their median.
 */
async function gpuMedianMs(timer: (record: () => void) => Promise<number>, runs: number, record: () => unknown): Promise<number> {
  const gpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    let outs: unknown;
    gpu.push(
      await timer(() => {
        outs = record();
      }),
    );
    dispose(outs);
  }
  return median(gpu);
}
