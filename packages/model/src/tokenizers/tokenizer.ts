import { ReformerError } from '@reformer/core';

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
