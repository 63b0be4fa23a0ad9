/**
 * What a Reformer model of a configuration allocates, checked before anything is: every parameter
 * tensor, and the LSH layers' per-call tensors for the shortest sequence they hash. The bound is the
 * backend's `maxAllocationBytes` (`checkAllocation` of `@reformer/core`), which users can raise.
 *
 * @module
 */
import { checkAllocation, getBackend, tensorBytes, type Backend } from '@reformer/core';
import { checkLSHAttentionSizes, chooseNumBuckets } from '@reformer/lsh';
import type { ReformerConfig } from './config.js';

/** One parameter tensor of a model: its name, shape and the config fields that size it. */
interface ParameterSize {
  name: string;
  shape: number[];
  fields: string;
}

/** The parameter tensors of a model of `c` (one per kind: every layer has the same shapes). */
function parameterSizes(c: ReformerConfig, lmHead: boolean): ParameterSize[] {
  const H = c.hidden_size;
  const inner = c.num_attention_heads * c.attention_head_size;
  const list: ParameterSize[] = [
    { name: 'embeddings.word_embeddings.weight', shape: [c.vocab_size, H], fields: 'vocab_size or hidden_size' },
  ];
  if (c.axial_pos_embds) {
    list.push(
      {
        name: 'embeddings.position_embeddings.weights.0',
        shape: [c.axial_pos_shape[0], 1, c.axial_pos_embds_dim[0]],
        fields: 'axial_pos_shape[0] or axial_pos_embds_dim[0]',
      },
      {
        name: 'embeddings.position_embeddings.weights.1',
        shape: [1, c.axial_pos_shape[1], c.axial_pos_embds_dim[1]],
        fields: 'axial_pos_shape[1] or axial_pos_embds_dim[1]',
      },
    );
  } else {
    list.push({
      name: 'embeddings.position_embeddings.embedding.weight',
      shape: [c.max_position_embeddings, H],
      fields: 'max_position_embeddings or hidden_size',
    });
  }
  list.push(
    {
      name: 'encoder.layers.*.attention projections (weight)',
      shape: [inner, H],
      fields: 'num_attention_heads, attention_head_size or hidden_size',
    },
    {
      name: 'encoder.layers.*.feed_forward.dense.dense.weight',
      shape: [c.feed_forward_size, H],
      fields: 'feed_forward_size or hidden_size',
    },
  );
  if (lmHead) list.push({ name: 'lm_head.decoder.weight', shape: [c.vocab_size, 2 * H], fields: 'vocab_size or hidden_size' });
  return list;
}

/**
 * Checks, before a model of config `c` allocates anything, that each of its parameter tensors fits
 * the allocation bound of `backend`, and that its LSH layers can run: the rotations and sorted copies
 * of the shortest sequence they hash (batch 1, `lsh_attn_chunk_length + 1` tokens) with `num_hashes`
 * rounds and `num_buckets` (or the bucket count `null` chooses for that length).
 *
 * @param where - the caller's name, for the messages.
 * @param c - a resolved (validated) configuration.
 * @param lmHead - also check the LM head's `[vocab_size, 2·hidden_size]` decoder.
 * @param backend - the backend the model will live on (default: the current one).
 * @throws {AllocationTooLargeError} (from `@reformer/core`) naming the tensor, the bytes it needs and
 *   the config fields to lower.
 * @throws {InvalidArgumentError} if the LSH bucket ids of `num_hashes` rounds of `num_buckets` exceed int32.
 */
export function checkModelSizes(where: string, c: ReformerConfig, lmHead: boolean, backend: Backend = getBackend()): void {
  for (const p of parameterSizes(c, lmHead)) {
    checkAllocation(
      `${where}: parameter ${p.name} [${p.shape.join(', ')}]`,
      tensorBytes(p.shape),
      `Lower ${p.fields} in the config`,
      backend,
    );
  }
  if (!c.attn_layers.includes('lsh')) return;
  const chunk = c.lsh_attn_chunk_length;
  const length = chunk + 1; // the shortest sequence that is hashed (shorter ones attend without hashing)
  checkLSHAttentionSizes(
    `${where}: LSH layers (num_hashes ${c.num_hashes}, num_buckets ${JSON.stringify(c.num_buckets)}) on the shortest hashed sequence, ${length} tokens,`,
    {
      batch: 1,
      heads: c.num_attention_heads,
      length,
      dHead: c.attention_head_size,
      nHashes: c.num_hashes,
      nBuckets: c.num_buckets ?? chooseNumBuckets(2 * chunk, chunk, c.max_position_embeddings),
      chunkLength: chunk,
      chunksBefore: c.lsh_num_chunks_before,
      chunksAfter: c.lsh_num_chunks_after,
      backend,
    },
  );
}
