/**
 * `reformer-generate`: continue a text with a saved Reformer language model, printing the text as it is
 * generated. Run `reformer-generate --help` for the flags.
 * @module
 */
import { parseArgs } from 'node:util';
import { ReformerError } from '@reformer/core';
import { streamText, type GenerateTextOptions } from './generate/text.js';
import { expectArchitecture } from './checkpoint.js';
import { ReformerModelWithLMHead } from './model.js';
import { loadModelFromDir } from './node.js';
import { loadTokenizerFromDir } from './tokenizer-files.js';
import { ByteTokenizer } from './tokenizers/byte-tokenizer.js';
import { SentencePieceTokenizer } from './tokenizers/sentencepiece.js';
import type { Tokenizer } from './tokenizers/tokenizer.js';
import { readFile } from 'node:fs/promises';
import { BACKEND_USAGE, backendChoice, startCliBackend, type BackendChoice } from './cli/backend.js';

/** The usage text. */
export const GENERATE_USAGE = `Usage: reformer-generate --model DIR --prompt TEXT [flags]

Continues TEXT with the causal Reformer LM saved in DIR (config.json + weights, as saveModel or Hugging
Face write them) and prints the prompt and the new text as it is generated.

  --model DIR            the saved model (required)
  --prompt TEXT          the text to continue (required)
  --max-new-tokens N     tokens to generate (default 100)
  --temperature T        0 = greedy; default 1
  --top-k K              sample among the K most likely tokens (default: all)
  --top-p P              nucleus sampling: the smallest set of tokens with probability ≥ P (default 1)
  --seed N               seed of the sampling and of the LSH rotations (default: random)
  --tokenizer WHICH      'auto' (default: the model directory's spiece.model), 'bytes' (UTF-8 bytes:
                         shifted by 2 for a 258-id model such as google/reformer-enwik8, raw for a
                         256-id model such as reformer-train char-lm), or the path of a spiece.model
  --no-cache             re-run the whole sequence for every token (the reference; slow)
${BACKEND_USAGE}
  -h, --help             this text
`;

const FLAGS = {
  model: { type: 'string' },
  prompt: { type: 'string' },
  'max-new-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  seed: { type: 'string' },
  tokenizer: { type: 'string' },
  'no-cache': { type: 'boolean' },
  backend: { type: 'string' },
  threads: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A malformed command line (exit status 2). */
export class GenerateUsageError extends Error {}

type Values = { [K in keyof typeof FLAGS]?: (typeof FLAGS)[K]['type'] extends 'boolean' ? boolean : string };

/** The parsed command line of `reformer-generate`. */
export interface GenerateCommand {
  model: string;
  prompt: string;
  tokenizer: string;
  options: GenerateTextOptions;
  /** `--backend` and `--threads`. */
  backend: BackendChoice;
}

const DECIMAL_INT = /^\d+$/;
const DECIMAL = /^\d+(\.\d+)?$/;

function number(values: Values, name: keyof Values, integer: boolean, check: (v: number) => boolean, range: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const text = String(raw);
  if (!(integer ? DECIMAL_INT : DECIMAL).test(text) || !check(Number(text))) {
    throw new GenerateUsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} ${range}, got '${text}'.`);
  }
  return Number(text);
}

/** Parses argv (without `node` and the script); throws {@link GenerateUsageError} on anything malformed. */
export function parseGenerateCommandLine(argv: readonly string[]): GenerateCommand | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false, tokens: true });
  } catch (e) {
    throw new GenerateUsageError((e as Error).message);
  }
  const seen = new Set<string>();
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== 'option') continue;
    if (seen.has(t.name)) throw new GenerateUsageError(`--${t.name} is given more than once.`);
    seen.add(t.name);
  }
  const v = parsed.values as Values;
  if (v.help) return 'help';
  if (v.model === undefined) throw new GenerateUsageError('--model DIR is required.');
  if (v.prompt === undefined) throw new GenerateUsageError('--prompt TEXT is required.');
  const backend = backendChoice(v.backend, v.threads, (m) => new GenerateUsageError(m));
  const options: GenerateTextOptions = {
    maxNewTokens: number(v, 'max-new-tokens', true, (n) => Number.isSafeInteger(n), '≥ 0') ?? 100,
    temperature: number(v, 'temperature', false, Number.isFinite, '≥ 0') ?? 1,
  };
  const topK = number(v, 'top-k', true, (n) => n >= 1 && Number.isSafeInteger(n), '≥ 1');
  const topP = number(v, 'top-p', false, (n) => n > 0 && n <= 1, 'in (0, 1]');
  const seed = number(v, 'seed', true, (n) => Number.isSafeInteger(n) && n < 2 ** 32, 'in [0, 2^32)');
  if (topK !== undefined) options.topK = topK;
  if (topP !== undefined) options.topP = topP;
  if (seed !== undefined) options.seed = seed;
  if (v['no-cache']) options.cache = false;
  return { model: v.model, prompt: v.prompt, tokenizer: v.tokenizer ?? 'auto', options, backend };
}

/**
 * `--tokenizer bytes`: UTF-8 bytes, laid out as the model's vocabulary says — 258 ids: shifted by 2
 * (the enwik8 model); 256 ids: the raw byte values (`reformer-train char-lm`).
 */
function byteTokenizerFor(vocabSize: number): Tokenizer {
  if (vocabSize === 258) return new ByteTokenizer();
  if (vocabSize === 256) return new ByteTokenizer({ offset: 0 });
  throw new GenerateUsageError(
    `--tokenizer bytes needs a model vocabulary of 256 (raw bytes) or 258 (bytes + 2, the enwik8 layout); this model has ${vocabSize}.`,
  );
}

async function tokenizerFor(which: string, modelDir: string, vocabSize: number): Promise<Tokenizer> {
  if (which === 'bytes') return byteTokenizerFor(vocabSize);
  if (which === 'auto') return loadTokenizerFromDir(modelDir);
  return SentencePieceTokenizer.fromModelFile(await readFile(which), which);
}

/**
 * Runs `reformer-generate` with `argv`, writing the text to `out` and messages to `err`. Returns the
 * exit status: 0 done, 2 a bad command line or a named error (unreadable model or tokenizer, bad
 * option), 1 anything unexpected.
 */
export async function generateMain(
  argv: readonly string[],
  out: { write(s: string): unknown } = process.stdout,
  err: { write(s: string): unknown } = process.stderr,
): Promise<number> {
  let command;
  try {
    command = parseGenerateCommandLine(argv);
  } catch (e) {
    if (!(e instanceof GenerateUsageError)) throw e;
    err.write(`reformer-generate: ${e.message}\n\n${GENERATE_USAGE}`);
    return 2;
  }
  if (command === 'help') {
    out.write(GENERATE_USAGE);
    return 0;
  }
  // The backend is current before the model is loaded; it is freed (the wasm workers end) on every way out.
  const backend = await startCliBackend(command.backend, 'reformer-generate', err);
  let model: { dispose(): void } | undefined;
  try {
    const loaded = await loadModelFromDir(command.model);
    model = loaded;
    const lm = expectArchitecture(loaded, ReformerModelWithLMHead);
    const tokenizer = await tokenizerFor(command.tokenizer, command.model, lm.config.vocab_size);
    if (tokenizer.vocabSize > lm.config.vocab_size) {
      err.write(
        `reformer-generate: the tokenizer has ${tokenizer.vocabSize} ids but the model's vocabulary is ${lm.config.vocab_size}: they do not belong together.\n`,
      );
      return 2;
    }
    out.write(command.prompt);
    for await (const piece of streamText(lm, tokenizer, command.prompt, command.options)) out.write(piece);
    out.write('\n');
    return 0;
  } catch (e) {
    if (e instanceof ReformerError || e instanceof GenerateUsageError || (e as NodeJS.ErrnoException).code === 'ENOENT') {
      err.write(`reformer-generate: ${(e as Error).message}\n`);
      return 2;
    }
    throw e;
  } finally {
    model?.dispose();
    await backend.dispose();
  }
}
