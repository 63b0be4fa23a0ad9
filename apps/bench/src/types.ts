/**
 * The shapes of a benchmark run: its configuration and the records it produces. Shared by the CLI
 * and the browser page (no Node imports here).
 *
 * @module
 */

/** The backends the benchmark knows how to start. */
export const BACKEND_NAMES = ['cpu', 'wasm', 'tfjs-wasm', 'tfjs-cpu', 'webgpu'] as const;
/** A backend the benchmark knows how to start. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** The attention variants, in table order. */
export const VARIANT_NAMES = ['full', 'full-chunked', 'local', 'lsh-1', 'lsh-2', 'lsh-4', 'lsh-8'] as const;
/** An attention variant. */
export type VariantName = (typeof VARIANT_NAMES)[number];

/** `forward`: the output only; `backward`: forward + backward (gradients of qk and v). */
export type Pass = 'forward' | 'backward';

/** Everything that decides what a run measures. */
export interface BenchConfig {
  backends: BackendName[];
  variants: VariantName[];
  /** Sequence lengths, each a positive multiple of `chunkLength`. */
  lengths: number[];
  passes: Pass[];
  batch: number;
  heads: number;
  dHead: number;
  /** Most timed runs per case (after warm-up). */
  repeats: number;
  /** Untimed runs before the timed ones. */
  warmup: number;
  /** A case stops repeating once its timed runs took this long (it always gets one timed run). */
  caseBudgetMs: number;
  /**
   * Full attention (and the exact reference the error columns need) is quadratic: it runs at a length
   * only while its forward time, estimated from the previous length, stays under this.
   */
  fullBudgetMs: number;
  /** Chunk length of local and LSH attention (and of the sorted LSH sequence). */
  chunkLength: number;
  /** Query chunk of `full-chunked`. */
  queryChunk: number;
  /** Run the peer baselines (plain tfjs attention, onnxruntime). */
  baselines: boolean;
  /** Run the whole-model rows. */
  model: boolean;
  /** Seed of the inputs and of the LSH rotations. */
  seed: number;
  /** Input distribution: clustered (attention concentrates, as in trained models) or i.i.d. Gaussian. */
  inputs: 'clustered' | 'gaussian';
  /** Backend of the whole-model rows (default: tfjs-wasm when measured, else the first backend). */
  modelBackend?: BackendName;
  /** Lengths of the whole-model rows (default 256, 1024; --quick 256). */
  modelLengths?: number[];
  /** Depths of the whole-model rows (default 2, 4; --quick 2). */
  modelDepths?: number[];
  /** Set by `--quick`: shorter budgets, smaller whole-model rows. */
  quick?: boolean;
  /** Threads of `@reformer/backend-wasm` (`--wasm-threads`; default 1). */
  wasmThreads?: number;
}

/** What a record measures. */
export type RecordKind = 'attention' | 'baseline' | 'model';

/** One measurement: one (backend, variant, length, pass). */
export interface MeasurementRecord {
  kind: RecordKind;
  /** Where it ran: `cpu`, `wasm`, `tfjs-wasm`, `tfjs-cpu`, `webgpu`, `onnxruntime-cpu`. */
  backend: string;
  /** A variant name, a baseline name (`tfjs-plain`, `ort-…`) or a model name. */
  variant: string;
  /** Sequence length (tokens per sequence). */
  length: number;
  pass: Pass;
  batch: number;
  heads: number;
  dHead: number;
  /** Model rows: number of layers. */
  depth?: number;
  /** `ok`: measured; `skipped`: deliberately not run (reason says why); `unavailable`/`error`: could not run. */
  status: 'ok' | 'skipped' | 'unavailable' | 'error';
  reason?: string;
  /** Timed runs (after warm-up). */
  runs: number;
  /** Wall time of every timed run, ms (ends when the results were read back to the host). */
  timesMs: number[];
  medianMs: number | null;
  minMs: number | null;
  maxMs: number | null;
  /** (max − min) / median of the timed runs. */
  spread: number | null;
  /** batch · length / median seconds. */
  tokensPerSec: number | null;
  /** median µs / (batch · length). */
  usPerToken: number | null;
  /** Most bytes alive on the backend during a run (`memory().peakBytes` after `resetPeak()`), inputs included. */
  peakBytes: number | null;
  /** Bytes alive on the backend when the run started (the inputs). */
  baseBytes: number | null;
  /** Largest |output − exact full attention| over all elements; null where full attention did not fit. */
  maxAbsError: number | null;
  /** Mean over query rows of ‖output − exact‖₂ / ‖exact‖₂. */
  meanRelError: number | null;
  /** The exact attention the error is measured against. */
  reference?: string;
  /**
   * Median GPU time of the pass's kernels from timestamp queries (WebGPU adapters with
   * `timestamp-query`), measured in extra runs after the wall-timed ones; null elsewhere.
   */
  gpuMs?: number | null;
  /** How the time was taken: wall time always; `wall+gpu` when `gpuMs` is present too. */
  timing: 'wall' | 'wall+gpu';
}

/** The machine and software a run measured. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryBytes?: number;
  platform: string;
  runtime: string;
  /** Per backend: adapter / engine details, or why it was unavailable. */
  backends: Record<string, string>;
  packages: Record<string, string>;
}

/** A whole run: configuration, machine and records. */
export interface BenchResult {
  startedAt: string;
  finishedAt: string;
  /** True when the run was interrupted (Ctrl-C) and holds only what finished. */
  interrupted: boolean;
  wallSeconds: number;
  config: BenchConfig;
  machine: MachineInfo;
  records: MeasurementRecord[];
}
