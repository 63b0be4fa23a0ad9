/**
 * Whole-model rows: one training step of a small Reformer language model against the same model
 * without the Reformer techniques. `@reformer/model` is loaded lazily by the caller (the browser page
 * fetches it only when model rows run); if loading fails, the rows are reported as unavailable.
 *
 * @module
 */
import * as core from '@reformer/core';
import type { Tensor } from '@reformer/core';
import type { ReformerConfig } from '@reformer/model';
import { reasonOf } from './backends.js';
import { timeRuns } from './measure.js';
import { emptyRecord, withTiming, type RunEnvironment } from './runner.js';
import type { BackendName, BenchConfig, MeasurementRecord } from './types.js';

/** Where model rows report to. */
export interface ModelBenchSink {
  push(record: MeasurementRecord): void;
  emit(label: string): void;
  stop(): boolean;
  info(key: string, value: string): void;
}

/** The whole-model part of a run. */
export interface ModelBench {
  /** Cases it will run (for progress). */
  count(config: BenchConfig): number;
  run(config: BenchConfig, env: RunEnvironment, sink: ModelBenchSink): Promise<void>;
}

/** What the rows use of `@reformer/model` (the module the caller imported). */
export type ModelModule = Pick<typeof import('@reformer/model'), 'ReformerModelWithLMHead'>;

/**
 * The whole-model rows on `mod`, or, when `mod` is undefined (`@reformer/model` could not be loaded),
 * one row reported as unavailable with `reason`.
 */
export function modelBenchFrom(mod: ModelModule | undefined, reason?: string): ModelBench {
  return mod === undefined ? unavailableModelBench(reason ?? '@reformer/model was not loaded') : realModelBench(mod);
}

/** A bench whose only row says why the model rows cannot run. */
function unavailableModelBench(why: string): ModelBench {
  return {
    count: () => 1,
    async run(config, _env, sink) {
      sink.info('model', `unavailable: ${why}`);
      const base = {
        kind: 'model' as const,
        backend: config.backends[0] ?? 'cpu',
        variant: 'reformer-lm',
        length: 0,
        pass: 'backward' as const,
      };
      sink.push({
        ...emptyRecord({ ...base, batch: config.batch, heads: config.heads, dHead: config.dHead }),
        status: 'unavailable',
        reason: why,
      });
    },
  };
}

/** The two models of a row: the Reformer and the same model without its techniques. */
export const MODEL_VARIANTS = ['reformer', 'transformer'] as const;

/**
 * The configuration of a whole-model row, in Hugging Face field names: a small causal LM of `depth`
 * layers. `reformer`: LSH attention in every layer (2 hash rounds, chunk 64), reversible stack,
 * feed-forward and LM head chunked by 64 positions. `transformer`: full attention, plain residual
 * stack, nothing chunked — the same weights' shapes, so the same parameter count.
 */
export function modelConfig(
  variant: (typeof MODEL_VARIANTS)[number],
  length: number,
  depth: number,
): { config: Partial<ReformerConfig>; reversible: boolean } {
  const reformer = variant === 'reformer';
  const a1 = Math.min(64, length);
  return {
    config: {
      attn_layers: Array.from({ length: depth }, () => (reformer ? 'lsh' : 'full')),
      is_decoder: true,
      hidden_size: 64,
      num_attention_heads: 2,
      attention_head_size: 32,
      feed_forward_size: 256,
      axial_pos_shape: [Math.ceil(length / a1), a1],
      axial_pos_embds_dim: [32, 32],
      lsh_attn_chunk_length: 64,
      local_attn_chunk_length: 64,
      num_hashes: 2,
      num_buckets: null,
      max_position_embeddings: length,
      chunk_size_feed_forward: reformer ? 64 : 0,
      chunk_size_lm_head: reformer ? 64 : 0,
      hidden_dropout_prob: 0,
      vocab_size: 256,
    },
    reversible: reformer,
  };
}

/** Lengths and depths of the whole-model rows. */
export function modelGrid(config: BenchConfig): { lengths: number[]; depths: number[] } {
  return {
    lengths: config.modelLengths ?? (config.quick ? [256] : [256, 1024]),
    depths: config.modelDepths ?? (config.quick ? [2] : [2, 4]),
  };
}

/** Backends the whole-model rows prefer when `--model-backend` is not given, best first. */
const MODEL_BACKEND_PREFERENCE = ['wasm', 'tfjs-wasm'] as const;

/**
 * Backend of the whole-model rows: `--model-backend` when given, else `wasm` (`@reformer/backend-wasm`)
 * when measured, then `tfjs-wasm`, else the first measured backend.
 */
export function modelBackendOf(config: BenchConfig): BackendName {
  if (config.modelBackend !== undefined) return config.modelBackend;
  const preferred = MODEL_BACKEND_PREFERENCE.find((b) => config.backends.includes(b));
  return preferred ?? config.backends[0]!;
}

function realModelBench(mod: ModelModule): ModelBench {
  const Model = mod.ReformerModelWithLMHead;
  return {
    count(config) {
      const g = modelGrid(config);
      return g.lengths.length * g.depths.length * MODEL_VARIANTS.length;
    },
    async run(config, env, sink) {
      const backendName = modelBackendOf(config);
      const g = modelGrid(config);
      const base = { kind: 'model' as const, backend: backendName, pass: 'backward' as const, batch: 1, heads: 2, dHead: 32 };
      let backend;
      try {
        backend = (await env.startBackend(backendName)).backend;
      } catch (err) {
        sink.push({ ...emptyRecord({ ...base, variant: 'reformer-lm', length: 0 }), status: 'unavailable', reason: reasonOf(err) });
        return;
      }
      sink.info(
        'model',
        `one AdamW training step of a causal LM (hidden 64, 2 heads × 32, d_ff 256, vocab 256, batch 1) on ${backendName}; reformer = LSH (2 hashes, chunk 64) + reversible + chunked FF/LM head (64); transformer = full attention, plain residuals, unchunked`,
      );
      /** Last measured step per (variant, depth), to skip quadratic steps past the full-attention budget. */
      const last = new Map<string, { L: number; ms: number }>();
      for (const depth of g.depths)
        for (const L of g.lengths)
          for (const variant of MODEL_VARIANTS) {
            await new Promise((resolve) => setTimeout(resolve, 0));
            if (sink.stop()) return;
            const rec = emptyRecord({ ...base, variant, length: L });
            rec.depth = depth;
            const prev = last.get(`${variant}:${depth}`);
            const est = variant === 'transformer' && prev ? prev.ms * (L / prev.L) ** 2 : 0;
            if (est > config.fullBudgetMs) {
              sink.push({
                ...rec,
                status: 'skipped',
                reason: `step estimated at ${(est / 1000).toFixed(0)} s > --full-budget ${(config.fullBudgetMs / 1000).toFixed(0)} s`,
              });
              continue;
            }
            sink.emit(`model ${variant} ×${depth} L=${L} on ${backendName}`);
            await core.setBackend(backend);
            let model: InstanceType<ModelModule['ReformerModelWithLMHead']> | undefined;
            let opt: core.AdamW | undefined;
            let ids: Tensor | undefined;
            try {
              const { config: cfg, reversible } = modelConfig(variant, L, depth);
              model = new Model(cfg, { seed: 1, reversible });
              const m = model;
              opt = new core.AdamW(m.namedParameters(), { lr: 1e-4 });
              const o = opt;
              const host = new Int32Array(L);
              for (let i = 0; i < L; i++) host[i] = (i * 7919 + 13) % 256;
              ids = core.tensor(host, [1, L], 'int32');
              const x = ids;
              const step = async () => {
                const loss = core.tidy(() => {
                  const { value, grads } = core.gradients(() => m.loss(x), m.parameters());
                  o.step(grads);
                  return value;
                });
                await loss.data();
                loss.dispose();
              };
              const t = await timeRuns(step, {
                warmup: config.warmup,
                repeats: config.repeats,
                budgetMs: config.caseBudgetMs,
                memory: {
                  reset: () => core.resetPeak(backend),
                  live: () => core.memory(backend).liveBytes,
                  peak: () => core.memory(backend).peakBytes,
                },
                beforeRun: env.gc,
              });
              last.set(`${variant}:${depth}`, { L, ms: t.medianMs });
              sink.push({ ...withTiming(rec, t), depth });
            } catch (err) {
              sink.push({ ...rec, depth, status: 'error', reason: reasonOf(err) });
            } finally {
              ids?.dispose();
              opt?.dispose();
              model?.dispose();
            }
          }
    },
  };
}
