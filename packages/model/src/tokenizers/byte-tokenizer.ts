import { InvalidArgumentError } from '@reformer/core';
import type { Tokenizer } from './tokenizer.js';

/**
 * The byte-level tokenizer of the enwik8 Reformer (`google/reformer-enwik8`): a text's UTF-8 bytes, each
 * shifted by 2 (id = byte + 2, vocabulary 258); id 0 is padding and id 1 is never produced by encoding.
 *
 * Decoding turns ids back into bytes and reads them as UTF-8 (malformed sequences become U+FFFD). The
 * model card's Python `decode` maps each byte to the code point of the same number instead, which
 * agrees on ASCII text and garbles anything else; this reads what encoding wrote.
 */
export class ByteTokenizer implements Tokenizer {
  readonly vocabSize = 258;
  readonly padTokenId = 0;
  /** Ids below this carry no byte (0: padding, 1: unused). */
  static readonly OFFSET = 2;

  encode(text: string): number[] {
    if (typeof text !== 'string') throw new InvalidArgumentError(`ByteTokenizer.encode: expected a string, got ${typeof text}.`);
    return Array.from(new TextEncoder().encode(text), (b) => b + ByteTokenizer.OFFSET);
  }

  decode(ids: readonly number[]): string {
    return new TextDecoder().decode(this.bytes(ids));
  }

  /** The bytes of `ids` (special ids skipped). */
  bytes(ids: readonly number[]): Uint8Array {
    const out: number[] = [];
    ids.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new InvalidArgumentError(`ByteTokenizer.decode: ids[${i}] = ${id} is not a token id in [0, ${this.vocabSize}).`);
      }
      if (id >= ByteTokenizer.OFFSET) out.push(id - ByteTokenizer.OFFSET);
    });
    return Uint8Array.from(out);
  }
}
