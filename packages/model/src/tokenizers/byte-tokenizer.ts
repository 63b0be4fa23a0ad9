import { InvalidArgumentError, checkInteger } from '@reformer/core';
import { checkTokenId, type Tokenizer } from './tokenizer.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Options of {@link ByteTokenizer}. */
export interface ByteTokenizerOptions {
  /**
   * Ids below this carry no byte: id = byte + offset. Default 2, the enwik8 model's layout (0 pads,
   * 1 is unused); 0 gives the 256 byte values themselves, as `charLMTask` and `reformer-train char-lm`
   * train on.
   */
  offset?: number;
}

/**
 * A byte-level tokenizer: a text's UTF-8 bytes, each shifted by `offset` (vocabulary 256 + offset).
 * The default is the tokenizer of the enwik8 Reformer (`google/reformer-enwik8`): id = byte + 2,
 * vocabulary 258, id 0 padding.
 *
 * Decoding turns ids back into bytes and reads them as UTF-8 (malformed sequences become U+FFFD). The
 * enwik8 model card's Python `decode` maps each byte to the code point of the same number instead,
 * which agrees on ASCII text and garbles anything else; this reads what encoding wrote.
 */
export class ByteTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly padTokenId?: number;
  /** Ids below this carry no byte. */
  readonly offset: number;

  constructor(options: ByteTokenizerOptions = {}) {
    const offset = options.offset ?? 2;
    checkInteger('ByteTokenizer', 'offset', offset, 0);
    this.offset = offset;
    this.vocabSize = 256 + offset;
    if (offset > 0) this.padTokenId = 0;
  }

  encode(text: string): number[] {
    if (typeof text !== 'string') throw new InvalidArgumentError(`ByteTokenizer.encode: expected a string, got ${typeof text}.`);
    return Array.from(encoder.encode(text), (b) => b + this.offset);
  }

  decode(ids: readonly number[]): string {
    return decoder.decode(this.bytes(ids));
  }

  /** The bytes of `ids` (ids below the offset skipped). */
  bytes(ids: readonly number[]): Uint8Array {
    const out: number[] = [];
    ids.forEach((id, i) => {
      checkTokenId('ByteTokenizer.decode', `ids[${i}]`, id, this.vocabSize);
      if (id >= this.offset) out.push(id - this.offset);
    });
    return Uint8Array.from(out);
  }
}
