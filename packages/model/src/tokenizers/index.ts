export { ByteTokenizer, type ByteTokenizerOptions } from './byte-tokenizer.js';
export { SentencePieceTokenizer } from './sentencepiece.js';
export { TokenizerError, type Tokenizer } from './tokenizer.js';
