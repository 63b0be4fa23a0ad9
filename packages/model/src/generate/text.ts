import { InvalidArgumentError } from '@reformer/core';
import type { ReformerModelWithLMHead } from '../model.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { generate, type GenerateOptions } from './generate.js';

/** Options of {@link generateText} and {@link streamText}: those of `generate`, for one prompt. */
export interface GenerateTextOptions extends Omit<GenerateOptions, 'onToken' | 'eosTokenId'> {
  /**
   * Stop after this token. Default: the tokenizer's `eosTokenId`; `null` never stops early.
   */
  eosTokenId?: number | null;
}

/** Prompt tokens decoded in front of the new ones (see streamText). */
const PROMPT_CONTEXT = 8;

/** Thrown inside `generate`'s token callback to end a generation whose reader stopped reading. */
class ReaderStopped extends Error {}

/**
 * The text that `ids` add after `prefix`: decoded together, so that what depends on context (a
 * SentencePiece word's leading space, a UTF-8 character split over byte tokens) comes out right.
 * `undefined` while the end is an incomplete UTF-8 character or the decoding is not an extension.
 */
function continuation(
  tokenizer: Tokenizer,
  prefix: readonly number[],
  base: string,
  ids: readonly number[],
  final: boolean,
): string | undefined {
  const full = tokenizer.decode([...prefix, ...ids]);
  // (A prompt always decodes to whole characters, so this holds for the tokenizers of this package.)
  if (!full.startsWith(base)) return final ? full.slice(base.length) : undefined;
  const text = full.slice(base.length);
  // A trailing U+FFFD may be the first bytes of a character the next tokens complete.
  return !final && text.endsWith('\uFFFD') ? undefined : text;
}

function promptIds(where: string, tokenizer: Tokenizer, prompt: string): number[] {
  if (typeof prompt !== 'string') throw new InvalidArgumentError(`${where}: the prompt must be a string, got ${typeof prompt}.`);
  const ids = tokenizer.encode(prompt);
  if (ids.length === 0) {
    throw new InvalidArgumentError(
      `${where}: the prompt ${JSON.stringify(prompt)} encodes to no tokens; give at least one character of text.`,
    );
  }
  return ids;
}

function generateOptions(tokenizer: Tokenizer, options: GenerateTextOptions): Omit<GenerateOptions, 'onToken'> {
  const { eosTokenId, ...rest } = options;
  const eos = eosTokenId === undefined ? tokenizer.eosTokenId : (eosTokenId ?? undefined);
  return eos === undefined ? rest : { ...rest, eosTokenId: eos };
}

/**
 * Generates a continuation of the text `prompt`: encodes it with `tokenizer`, runs {@link generate}
 * (with the decoding cache unless `cache: false`) and returns the decoded new text (without the
 * prompt, and without the end-of-text token). Stops after `maxNewTokens` tokens or the tokenizer's
 * end-of-text token.
 *
 * @example
 * ```ts
 * const text = await generateText(model, new ByteTokenizer(), 'The Reformer', { maxNewTokens: 64, temperature: 0.8, seed: 1 });
 * ```
 */
export async function generateText(
  model: ReformerModelWithLMHead,
  tokenizer: Tokenizer,
  prompt: string,
  options: GenerateTextOptions,
): Promise<string> {
  let text = '';
  for await (const piece of streamText(model, tokenizer, prompt, options)) text += piece;
  return text;
}

/**
 * {@link generateText} as it happens: an async iterator of text pieces, one (or none, while a
 * character is incomplete) per generated token; their concatenation is what `generateText` returns.
 * Stopping the iteration (`break`) stops the generation after the current token.
 *
 * @example
 * ```ts
 * for await (const piece of streamText(model, tokenizer, 'Once upon a time', { maxNewTokens: 200 })) {
 *   process.stdout.write(piece);
 * }
 * ```
 */
export async function* streamText(
  model: ReformerModelWithLMHead,
  tokenizer: Tokenizer,
  prompt: string,
  options: GenerateTextOptions,
): AsyncGenerator<string, void, undefined> {
  const where = 'streamText';
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`${where}: options with maxNewTokens are required.`);
  const promptTokens = promptIds(where, tokenizer, prompt);
  // The new text is decoded after the prompt's last few tokens only: enough context for what depends
  // on it (a word's leading space, a character's bytes), without decoding a long prompt every step.
  const prefix = promptTokens.slice(-PROMPT_CONTEXT);
  const base = tokenizer.decode(prefix);
  const eos = generateOptions(tokenizer, options);
  const ids: number[] = [];
  const pending: string[] = [];
  let emitted = 0;
  let stopped = false;
  let wake: (() => void) | undefined;
  const flush = (final: boolean) => {
    const text = continuation(tokenizer, prefix, base, ids, final);
    if (text !== undefined && text.length > emitted) {
      pending.push(text.slice(emitted));
      emitted = text.length;
    }
    wake?.();
  };
  let done = false;
  let failure: unknown;
  const run = generate(model, [promptTokens], {
    ...eos,
    onToken: (_step, [token]) => {
      if (stopped) throw new ReaderStopped();
      if (token !== eos.eosTokenId) ids.push(token!);
      flush(false);
    },
  })
    .then(
      () => flush(true),
      (e: unknown) => {
        if (!(e instanceof ReaderStopped)) failure = e;
      },
    )
    .finally(() => {
      done = true;
      wake?.();
    });
  try {
    while (true) {
      if (pending.length > 0) {
        yield pending.shift()!;
        continue;
      }
      if (done) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (pending.length > 0 || done) resolve();
      });
      wake = undefined;
    }
    if (failure !== undefined) throw failure;
  } finally {
    stopped = true;
    await run;
  }
}
