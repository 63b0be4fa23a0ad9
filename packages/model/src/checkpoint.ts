import {
  InvalidArgumentError,
  ReformerError,
  parseSafetensors,
  serializeSafetensors,
  type HostTensor,
  type Module,
  type SafetensorsFile,
  type Tensor,
  withoutInit,
} from '@reformer/core';
import { resolveConfig, type ReformerConfig } from './config.js';
import { ReformerForMaskedLM, ReformerModel, ReformerModelWithLMHead, type ModelOptions } from './model.js';
import { ReformerForQuestionAnswering, ReformerForSequenceClassification } from './heads/index.js';

/** The model classes a checkpoint can hold, by Hugging Face architecture name. */
export type ReformerArchitecture =
  | 'ReformerModelWithLMHead'
  | 'ReformerForMaskedLM'
  | 'ReformerForSequenceClassification'
  | 'ReformerForQuestionAnswering'
  | 'ReformerModel';

/** A model of any of the checkpoint architectures. */
export type AnyReformerModel =
  | ReformerModelWithLMHead
  | ReformerForMaskedLM
  | ReformerForSequenceClassification
  | ReformerForQuestionAnswering
  | ReformerModel;

/** Each architecture's class, by its Hugging Face name (what `config.json`'s `architectures[0]` selects). */
const ARCHITECTURES = {
  ReformerModelWithLMHead,
  ReformerForMaskedLM,
  ReformerForSequenceClassification,
  ReformerForQuestionAnswering,
  ReformerModel,
} as const satisfies Record<ReformerArchitecture, new (config: ReformerConfig, options: ModelOptions) => AnyReformerModel>;

/** A checkpoint in memory: Hugging Face's `config.json` text and `model.safetensors` bytes. */
export interface CheckpointFiles {
  /** `config.json`: text, bytes, or an already parsed object. */
  config: string | ArrayBuffer | Uint8Array | Partial<ReformerConfig>;
  /** `model.safetensors`: its bytes, or the file already parsed (`parseSafetensors`, `readSafetensorsFile`). */
  weights: ArrayBuffer | Uint8Array | SafetensorsFile;
}

/** A checkpoint cannot be used: its config is not JSON, or its architecture is not a Reformer one. */
export class CheckpointError extends ReformerError {}

/** The architecture name of a model instance. */
export function architectureOf(model: AnyReformerModel): ReformerArchitecture {
  if (model instanceof ReformerModelWithLMHead) return 'ReformerModelWithLMHead';
  if (model instanceof ReformerForMaskedLM) return 'ReformerForMaskedLM';
  if (model instanceof ReformerForSequenceClassification) return 'ReformerForSequenceClassification';
  if (model instanceof ReformerForQuestionAnswering) return 'ReformerForQuestionAnswering';
  return 'ReformerModel';
}

/**
 * `model` as an instance of `cls`, or a `CheckpointError` naming both architectures: what a loaded model
 * needs before it goes to a function that takes one class (e.g. `generate`, which takes the causal LM).
 *
 * @example
 * ```ts
 * const lm = expectArchitecture(await loadModelFromDir('./my-reformer'), ReformerModelWithLMHead);
 * await generate(lm, [[1, 2, 3]], { maxNewTokens: 10 });
 * ```
 */
export function expectArchitecture<M extends AnyReformerModel>(model: AnyReformerModel, cls: abstract new (...args: never[]) => M): M {
  if (model instanceof cls) return model;
  throw new CheckpointError(`expected a ${cls.name}, but the checkpoint holds a ${architectureOf(model)}.`);
}

/** The model's config as Hugging Face writes it (`architectures`, `model_type`, `num_hidden_layers` added). */
export function configJson(model: AnyReformerModel): string {
  const c = model.config;
  const out: Record<string, unknown> = {
    ...c,
    architectures: [architectureOf(model)],
    model_type: 'reformer',
    num_hidden_layers: c.attn_layers.length,
  };
  return `${JSON.stringify(out, null, 2)}\n`;
}

/** Host copies of a set of named tensors (for serialisation). */
export async function hostTensors(tensors: ReadonlyMap<string, Tensor>): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of tensors) {
    const values = await t.data();
    out.set(name, { dtype: t.dtype, shape: [...t.shape], values: values as Float32Array | Int32Array });
  }
  return out;
}

/**
 * A model as checkpoint files in memory: `config.json` text and `model.safetensors` bytes (float32,
 * Hugging Face parameter names, metadata `format: pt`). Works in browsers and in Node; to write them to
 * disk atomically use `saveModel` from `@reformer/model/node`.
 */
export async function serializeModel(model: AnyReformerModel): Promise<{ config: string; weights: Uint8Array }> {
  const weights = serializeSafetensors(await hostTensors(model.stateDict()), { format: 'pt' });
  return { config: configJson(model), weights };
}

function parseConfig(config: CheckpointFiles['config']): Record<string, unknown> {
  if (typeof config === 'object' && !(config instanceof ArrayBuffer) && !(config instanceof Uint8Array)) return { ...config };
  const text = typeof config === 'string' ? config : new TextDecoder().decode(config);
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch (e) {
    throw new CheckpointError(
      `config.json is not a JSON object (${(e as Error).message}); the checkpoint is damaged or not a Reformer checkpoint.`,
    );
  }
}

/** Names of the attention mask constants Transformers 3.x saved as buffers. */
const LEGACY_MASK_BUFFER = /\.attention\.self_attention\.(?:self_)?mask_value_float(?:16|32)$/;

/**
 * Builds the model a checkpoint describes and loads its weights. The architecture comes from the
 * config's `architectures[0]` (default `ReformerModelWithLMHead` when `is_decoder`, else
 * `ReformerForMaskedLM`). Every parameter name and shape is checked first: missing names, unexpected
 * names and shape mismatches are reported together, by name, in one core `StateDictError`, and the
 * half-built model is disposed. A truncated or corrupt `model.safetensors` throws core's
 * `SafetensorsError`; an unusable config a {@link CheckpointError} or `ReformerConfigError`.
 *
 * Hugging Face 4.x checkpoints also hold `lm_head.decoder.bias` (tied to `lm_head.bias`, and added to
 * the logits): it is read as `lm_head.bias`, and `lm_head_bias` is then on unless the config says
 * otherwise, so the logits are those of the version that wrote it. The attention mask constants that
 * Transformers 3.x saved as buffers (`…self_attention.mask_value_float32` and the like) are ignored.
 */
export function loadModel(files: CheckpointFiles, options: ModelOptions = {}): AnyReformerModel {
  const raw = parseConfig(files.config);
  const archs = raw['architectures'];
  const arch = (
    Array.isArray(archs) && typeof archs[0] === 'string'
      ? archs[0]
      : raw['is_decoder'] === true
        ? 'ReformerModelWithLMHead'
        : 'ReformerForMaskedLM'
  ) as string;
  const w = files.weights;
  const tensors = new Map((w instanceof ArrayBuffer || w instanceof Uint8Array ? parseSafetensors(w) : w).tensors);
  const legacyBias = tensors.get('lm_head.decoder.bias');
  if (legacyBias !== undefined) {
    tensors.delete('lm_head.decoder.bias');
    if (!tensors.has('lm_head.bias')) tensors.set('lm_head.bias', legacyBias);
    if (raw['lm_head_bias'] === undefined) raw['lm_head_bias'] = true;
  }
  // Transformers 3.x saved each attention layer's mask constants as buffers
  // (`…self_attention.mask_value_float32`, `self_mask_value_float16`, …), as the published 2020
  // checkpoints hold them: constants of the code, not weights. Dropped, as Hugging Face ignores them.
  for (const name of [...tensors.keys()]) if (LEGACY_MASK_BUFFER.test(name)) tensors.delete(name);
  const config = resolveConfig(raw as Partial<ReformerConfig>);
  if (!Object.hasOwn(ARCHITECTURES, arch)) {
    throw new CheckpointError(
      `config.json names architecture ${JSON.stringify(arch)}; expected one of ${Object.keys(ARCHITECTURES).join(', ')}.`,
    );
  }
  // No random initialisation: every parameter is about to be overwritten by the checkpoint.
  const model: AnyReformerModel = withoutInit(() => new ARCHITECTURES[arch as ReformerArchitecture](config, options));
  try {
    model.loadStateDict(tensors);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** Throws unless `model` is one of the Reformer model classes. @internal */
export function checkModel(where: string, model: Module): asserts model is AnyReformerModel {
  if (!Object.values(ARCHITECTURES).some((cls) => model instanceof cls)) {
    throw new InvalidArgumentError(`${where}: expected one of ${Object.keys(ARCHITECTURES).join(', ')}.`);
  }
}
