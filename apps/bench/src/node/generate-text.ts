/**
 * Node-only: `reformer-bench generate` — tokens per second of `streamText` with the decoding cache, at
 * long contexts, on each backend, for a published Reformer architecture with random weights.
 *
 * @module
 */
import { setBackend, getBackend, type Backend } from '@reformer/core';
import { ReformerModelWithLMHead, streamText, type ReformerConfig, type Tokenizer } from '@reformer/model';
import { reasonOf } from '../backends.js';
import { BACKEND_NAMES, type BackendName } from '../types.js';
import { startNodeBackend } from './backends.js';

/**
 * `google/reformer-crime-and-punishment`'s architecture (its published `config.json`): 6 layers
 * alternating local and LSH attention, width 256, 2 heads of 64, 320 SentencePiece ids, axial
 * positions up to 524,288.
 */
export const CRIME_AND_PUNISHMENT: Partial<ReformerConfig> = {
  attn_layers: ['local', 'lsh', 'local', 'lsh', 'local', 'lsh'],
  attention_head_size: 64,
  axial_pos_embds: true,
  axial_pos_embds_dim: [64, 192],
  axial_pos_shape: [512, 1024],
  feed_forward_size: 512,
  hidden_act: 'relu',
  hidden_size: 256,
  is_decoder: true,
  local_attn_chunk_length: 64,
  local_num_chunks_before: 1,
  lsh_attn_chunk_length: 64,
  lsh_num_chunks_before: 1,
  max_position_embeddings: 524288,
  num_attention_heads: 2,
  num_buckets: [64, 128],
  num_hashes: 1,
  vocab_size: 320,
};

/**
 * A stand-in tokenizer over the model's 320 ids: one id per character and one character per id, so
 * that a context of N characters is N tokens and every generated token is one streamed piece. (The
 * real tokenizer is a SentencePiece model; its cost per token is not what this measures.)
 */
const charTokenizer: Tokenizer = {
  vocabSize: 320,
  encode: (text) => Array.from(text, (c) => 3 + (c.codePointAt(0)! % 317)),
  decode: (ids) => ids.map((id) => String.fromCharCode(97 + (id % 26))).join(''),
};

/** Options of {@link runGenerateBench}. */
export interface GenerateBenchOptions {
  backends: BackendName[];
  contexts: number[];
  newTokens: number;
}

/** One measured (or failed) case. */
export interface GenerateRow {
  backend: string;
  context: number;
  /** Time to the first new token: the prompt through every layer (the cache filled) and one sample. */
  prefillMs?: number;
  /** Tokens per second after the first, with the cache. */
  tokensPerSecond?: number;
  error?: string;
}

/** Parses `generate`'s flags. */
export function parseGenerateArgs(argv: readonly string[]): GenerateBenchOptions {
  const opts: GenerateBenchOptions = { backends: ['cpu', 'wasm', 'tfjs-wasm', 'webgpu'], contexts: [1024, 16384], newTokens: 32 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    const ints = () =>
      value.split(',').map((s) => {
        if (!/^\d+$/.test(s) || Number(s) < 1) throw new Error(`${flag}: '${s}' is not a positive integer`);
        return Number(s);
      });
    if (flag === '--backends') {
      const names = value.split(',');
      for (const n of names)
        if (!(BACKEND_NAMES as readonly string[]).includes(n))
          throw new Error(`--backends: unknown backend '${n}' (${BACKEND_NAMES.join(', ')})`);
      opts.backends = names as BackendName[];
    } else if (flag === '--contexts') opts.contexts = ints();
    else if (flag === '--new-tokens') opts.newTokens = ints()[0]!;
    else throw new Error(`unknown flag ${flag} (--backends, --contexts, --new-tokens)`);
    i++;
  }
  return opts;
}

/** Measures every backend × context; a backend that cannot start or a case that fails is a row with its error. */
export async function runGenerateBench(
  opts: GenerateBenchOptions,
  log: (line: string) => void,
): Promise<{ rows: GenerateRow[]; info: Record<string, string> }> {
  const rows: GenerateRow[] = [];
  const info: Record<string, string> = {};
  const previous = getBackend();
  for (const name of opts.backends) {
    let backend: Backend;
    try {
      const started = await startNodeBackend(name);
      backend = started.backend;
      info[name] = started.info;
    } catch (err) {
      for (const context of opts.contexts) rows.push({ backend: name, context, error: reasonOf(err) });
      continue;
    }
    await setBackend(backend);
    const model = new ReformerModelWithLMHead(CRIME_AND_PUNISHMENT, { seed: 1 });
    try {
      for (const context of opts.contexts) {
        const prompt = Array.from({ length: context }, (_, i) => String.fromCharCode(97 + ((i * 7) % 26))).join('');
        try {
          const start = performance.now();
          let first: number | undefined;
          let pieces = 0;
          for await (const piece of streamText(model, charTokenizer, prompt, {
            maxNewTokens: opts.newTokens,
            temperature: 0,
            seed: 1,
            eosTokenId: null,
          })) {
            first ??= performance.now();
            pieces += piece.length;
          }
          const end = performance.now();
          const row: GenerateRow = {
            backend: name,
            context,
            prefillMs: first! - start,
            tokensPerSecond: ((pieces - 1) * 1000) / (end - first!),
          };
          rows.push(row);
          log(`${name} ${context}: prefill ${row.prefillMs!.toFixed(0)} ms, ${row.tokensPerSecond!.toFixed(1)} tokens/s`);
        } catch (err) {
          rows.push({ backend: name, context, error: reasonOf(err) });
          log(`${name} ${context}: ${reasonOf(err)}`);
        }
      }
    } finally {
      model.dispose();
      await setBackend(previous);
      (backend as { dispose?: () => void }).dispose?.();
    }
  }
  return { rows, info };
}

/** The rows as a markdown table. */
export function generateTable(rows: readonly GenerateRow[], newTokens: number): string {
  const lines = [
    `| backend | context (tokens) | prefill + first token (ms) | tokens/s after the first (${newTokens} new, cache) |`,
    '| --- | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    lines.push(
      r.error !== undefined
        ? `| ${r.backend} | ${r.context} | — | ${r.error} |`
        : `| ${r.backend} | ${r.context} | ${r.prefillMs!.toFixed(0)} | ${r.tokensPerSecond!.toFixed(1)} |`,
    );
  }
  return lines.join('\n');
}
