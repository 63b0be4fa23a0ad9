/**
 * Node-only: the tokenizer a saved model directory ships (`spiece.model`, as Hugging Face's Reformer
 * checkpoints do).
 * @module
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SentencePieceTokenizer } from './tokenizers/sentencepiece.js';
import { TokenizerError, type Tokenizer } from './tokenizers/tokenizer.js';

/** The tokenizer files {@link loadTokenizerFromDir} reads, in order of preference. */
export const TOKENIZER_FILES = ['spiece.model'] as const;

/**
 * Loads the tokenizer saved next to a model: `spiece.model` (SentencePiece). Throws `TokenizerError`
 * naming what was looked for and what the directory holds when there is none — the byte-level enwik8
 * model ships no tokenizer file: use `new ByteTokenizer()` for it.
 */
export async function loadTokenizerFromDir(dir: string): Promise<Tokenizer> {
  for (const name of TOKENIZER_FILES) {
    const path = join(dir, name);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new TokenizerError(`${path}: cannot read the tokenizer file (${(e as Error).message}).`);
    }
    return SentencePieceTokenizer.fromModelFile(bytes, path);
  }
  let found: string[];
  try {
    found = (await readdir(dir)).sort();
  } catch (e) {
    throw new TokenizerError(`${dir}: cannot list the model directory (${(e as Error).message}).`);
  }
  throw new TokenizerError(
    `${dir}: no tokenizer file (looked for ${TOKENIZER_FILES.join(', ')}; found ${found.length > 0 ? found.join(', ') : 'nothing'}). ` +
      'Byte-level models such as google/reformer-enwik8 ship none: use new ByteTokenizer() (reformer-generate: --tokenizer bytes).',
  );
}
