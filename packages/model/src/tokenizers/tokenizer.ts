import { InvalidArgumentError, ReformerError, ShapeMismatchError, formatValue, isInteger } from '@reformer/core';

/**
 * Text ↔ token ids. Every tokenizer of this package implements it, and `generateText` takes any object
 * that does (so a tokenizer from another library can be wrapped in a few lines).
 */
export interface Tokenizer {
  /** Number of ids the tokenizer can produce (ids are `0 … vocabSize − 1`). */
  readonly vocabSize: number;
  /** The id that ends a text, when the tokenizer has one. */
  readonly eosTokenId?: number;
  /** The id used for padding, when the tokenizer has one. */
  readonly padTokenId?: number;
  /** The ids of `text` (no special tokens added). */
  encode(text: string): number[];
  /** The text of `ids`; special ids (padding, end of text) give no text. */
  decode(ids: readonly number[]): string;
}

/** A tokenizer file that cannot be read (not a SentencePiece model, a malformed `tokenizer.json`, …). */
export class TokenizerError extends ReformerError {}

/**
 * Checks that `id` is a token id of a vocabulary of `vocabSize` (an integer in `[0, vocabSize)`).
 *
 * @param where - the function that checks (`'generate'`, `'ByteTokenizer.decode'`).
 * @param label - where the id stands, for the message (`'ids[3]'`, `'prompt[0][2]'`, `'eosTokenId'`).
 * @throws InvalidArgumentError `<where>: <label> = 300 is not a token id in [0, 258).`
 * @internal
 */
export function checkTokenId(where: string, label: string, id: unknown, vocabSize: number): void {
  if (!isInteger(id, 0, vocabSize - 1)) {
    throw new InvalidArgumentError(`${where}: ${label} = ${formatValue(id)} is not a token id in [0, ${vocabSize}).`);
  }
}

/**
 * Checks rows of token ids (a prompt, a source): every row as long as the first, every id a token id.
 *
 * @param what - the rows' name in messages (`'prompt'`, `'source'`).
 * @throws ShapeMismatchError naming the first row of another length; InvalidArgumentError naming the
 * first id out of the vocabulary (`<where>: <what>[i][j] = id is not a token id in [0, V).`).
 * @internal
 */
export function checkTokenRows(where: string, what: string, rows: readonly (readonly number[])[], vocabSize: number): void {
  const length = rows[0]?.length ?? 0;
  rows.forEach((r, i) => {
    if (r.length !== length) {
      throw new ShapeMismatchError(`${where}: every ${what} row must have the same length (${length}); row ${i} has ${r.length}.`);
    }
    r.forEach((id, j) => checkTokenId(where, `${what}[${i}][${j}]`, id, vocabSize));
  });
}
