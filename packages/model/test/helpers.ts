import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { createWasmBackend } from '@reformer/backend-wasm/node';
import { createCpuBackend, getBackend, setBackend, tensor, type Backend, type Tensor } from '@reformer/core';
import { readSafetensorsFile, type HostTensor } from '@reformer/core/node';
import type { ReformerConfig } from '../src/index.js';

/**
 * A tiny causal config (2 heads × 8, hidden 16, chunks of 4, 4 buckets, vocab 24, no dropout) with
 * `overrides` applied: small enough for fast tests, long enough (32 positions) to chunk and hash.
 */
export function tinyConfig(overrides: Partial<ReformerConfig> = {}): Partial<ReformerConfig> {
  return {
    attn_layers: ['lsh', 'local'],
    hidden_size: 16,
    num_attention_heads: 2,
    attention_head_size: 8,
    feed_forward_size: 32,
    axial_pos_shape: [4, 8],
    axial_pos_embds_dim: [8, 8],
    lsh_attn_chunk_length: 4,
    local_attn_chunk_length: 4,
    num_buckets: 4,
    vocab_size: 24,
    is_decoder: true,
    hidden_dropout_prob: 0,
    local_attention_probs_dropout_prob: 0,
    ...overrides,
  };
}

/** The Hugging Face fixtures (`../shared/fixtures/hf-reformer/<name>/`; what they are: docs/verification.md). */
export function fixtureDir(name: string): URL {
  return new URL(`../../../../shared/fixtures/hf-reformer/${name}/`, import.meta.url);
}

/** A fixture's files: its config, weights, rotations and recorded inputs/outputs. */
export interface Fixture {
  config: ReformerConfig;
  weights: Map<string, HostTensor>;
  rotations: Map<string, HostTensor>;
  io: Map<string, HostTensor>;
}

export async function loadFixture(name: string): Promise<Fixture> {
  const dir = fixtureDir(name);
  const config = JSON.parse(await readFile(new URL('config.json', dir), 'utf8')) as ReformerConfig;
  const [weights, rotations, io] = await Promise.all(
    ['model', 'rotations', 'io'].map(async (f) => (await readSafetensorsFile(new URL(`${f}.safetensors`, dir).pathname)).tensors),
  );
  return { config, weights: weights!, rotations: rotations!, io: io! };
}

/** A tensor of a fixture file, by name (throws if missing). */
export function get(m: Map<string, HostTensor>, name: string): HostTensor {
  const t = m.get(name);
  if (!t) throw new Error(`fixture tensor ${name} missing`);
  return t;
}

/** A fixture tensor on the current backend. */
export function toTensor(h: HostTensor): Tensor {
  return tensor(h.values, h.shape, h.dtype);
}

/** |a − e| ≤ atol + rtol·|e| everywhere (fails naming the first bad index); returns the largest |a − e|. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number, what: string): number {
  expect(actual.length, `${what} length`).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i]! - expected[i]!);
    if (!(diff <= atol + rtol * Math.abs(expected[i]!))) {
      throw new Error(`${what}[${i}]: got ${actual[i]}, expected ${expected[i]} (atol ${atol}, rtol ${rtol})`);
    }
    worst = Math.max(worst, diff);
  }
  return worst;
}

/** {@link tinyConfig} for the training and task tests: 16 positions, vocabulary 12, 2 hash rounds, no EOS. */
export function trainConfig(overrides: Partial<ReformerConfig> = {}): Partial<ReformerConfig> {
  return tinyConfig({ axial_pos_shape: [4, 4], vocab_size: 12, num_hashes: 2, eos_token_id: null, ...overrides });
}

/** Seeded host token ids in [low, high). */
export function randomIds(seed: number, count: number, low: number, high: number): Int32Array {
  let s = seed >>> 0 || 1;
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = low + (s % (high - low));
  }
  return out;
}

/** The backends the Hugging Face fixture tests run on: the CPU reference and our wasm backend (one thread). */
export const FIXTURE_BACKENDS: [string, () => Backend | Promise<Backend>][] = [
  ['cpu', () => createCpuBackend()],
  ['wasm', () => createWasmBackend({ threads: 1 })],
];

/**
 * `describe(title)` once per backend of {@link FIXTURE_BACKENDS}, with that backend current in the
 * block's hooks and tests (set before the body's own `beforeAll`, restored and freed after the block).
 */
export function describeOnBackends(title: string, body: () => void): void {
  describe.each(FIXTURE_BACKENDS)(`${title} (%s backend)`, (_, start) => {
    let previous: Backend;
    let backend: Backend;
    beforeAll(async () => {
      previous = getBackend();
      backend = await start();
      await setBackend(backend);
    });
    afterAll(async () => {
      await setBackend(previous);
      backend.dispose?.();
    });
    body();
  });
}
