/**
 * A lower bound on the memory a `reformer-train` run needs, computed from the flags before anything is
 * allocated, so that `--length 1000000000` or `--d-model 99999999` fail at once with the bytes they
 * would need instead of allocating gigabytes or dying in a typed-array constructor.
 * @module
 */
import type { ReformerConfig } from '../config.js';
import { TrainingMemoryError } from './errors.js';

/** One part of the estimate. */
export interface MemoryPart {
  /** What it is. */
  what: string;
  /** Bytes (a lower bound). */
  bytes: number;
  /** The flags that make it smaller. */
  flags: string;
}

const F32 = 4;

/**
 * Bytes a training step needs at least: weights with their gradients and Adam's two moments, the
 * logits and their gradient, the hidden states, one layer's attention scores and feed-forward
 * activations (the stack is reversible, so one layer's activations are live at a time).
 */
export function trainingMemory(config: Partial<ReformerConfig>, batch: number, length: number): MemoryPart[] {
  const d = config.hidden_size ?? 0;
  const heads = config.num_attention_heads ?? 0;
  const width = heads * (config.attention_head_size ?? 0);
  const ff = config.feed_forward_size ?? 0;
  const vocab = config.vocab_size ?? 0;
  const layers = config.attn_layers ?? [];
  const hashes = config.num_hashes ?? 1;
  const chunk = config.lsh_attn_chunk_length ?? 64;
  let params = vocab * d + 2 * d * vocab + vocab; // word embeddings, LM head (over both streams) and bias
  if (config.axial_pos_embds === true && config.axial_pos_shape !== undefined && config.axial_pos_embds_dim !== undefined) {
    params += config.axial_pos_shape[0] * config.axial_pos_embds_dim[0] + config.axial_pos_shape[1] * config.axial_pos_embds_dim[1];
  } else {
    params += (config.max_position_embeddings ?? length) * d;
  }
  for (const kind of layers) params += (kind === 'lsh' ? 3 : 4) * d * width + 2 * d * ff + ff + 5 * d;
  const scores = Math.max(
    0,
    ...layers.map((kind) =>
      kind === 'full'
        ? batch * heads * length * length
        : kind === 'lsh'
          ? batch * heads * hashes * length * 2 * chunk
          : batch * heads * length * 2 * (config.local_attn_chunk_length ?? chunk),
    ),
  );
  return [
    {
      what: 'weights, gradients and Adam state',
      bytes: 4 * F32 * params,
      flags: '--d-model, --ff, --layers, --heads/--head-size, --vocab, or --axial instead of one position row per token',
    },
    { what: 'logits and their gradient', bytes: 2 * F32 * batch * length * vocab, flags: '--batch or --length' },
    {
      what: 'hidden states (both streams, with gradients)',
      bytes: 4 * F32 * batch * length * 2 * d,
      flags: '--batch, --length or --d-model',
    },
    {
      what: "one layer's attention scores and probabilities",
      bytes: 2 * F32 * scores,
      flags: '--batch, --length, --chunk, --hashes, or --attention lsh/local instead of full',
    },
    { what: 'feed-forward activations', bytes: 2 * F32 * batch * length * ff, flags: '--batch, --length or --ff' },
  ];
}

/** `1.5 GiB (1,610,612,736 bytes)`. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  const exact = bytes < 1e21 ? bytes.toLocaleString('en-US', { maximumFractionDigits: 0 }) : bytes.toExponential(3);
  return u === 0 ? `${exact} bytes` : `${v.toFixed(1)} ${units[u]} (${exact} bytes)`;
}

/**
 * Throws {@link TrainingMemoryError} when the estimate exceeds `limit`, naming the bytes needed, the
 * largest part and the flags that shrink it.
 */
export function checkTrainingMemory(parts: readonly MemoryPart[], limit: number, limitSource: string): void {
  const total = parts.reduce((s, p) => s + p.bytes, 0);
  if (total <= limit) return;
  const largest = [...parts].sort((a, b) => b.bytes - a.bytes)[0]!;
  const lines = parts.filter((p) => p.bytes > 0).map((p) => `  ${p.what}: ${formatBytes(p.bytes)}`);
  throw new TrainingMemoryError(
    `these flags need at least ${formatBytes(total)} to train, more than --max-memory ${formatBytes(limit)} (${limitSource}):\n${lines.join('\n')}\n` +
      `The largest part is ${largest.what}: lower ${largest.flags}; or raise --max-memory if the machine really has the memory.`,
  );
}
