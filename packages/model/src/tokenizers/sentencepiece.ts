import { InvalidArgumentError } from '@reformer/core';
import { Tokenizer as HFTokenizer } from '@huggingface/tokenizers';
import { createNormalizer, SPACE_SYMBOL } from './normalizer.js';
import { PieceType, readSentencePieceModel, type SentencePieceModel } from './sentencepiece-model.js';
import { TokenizerError, checkTokenId, type Tokenizer } from './tokenizer.js';

/** What SentencePiece writes for an unknown piece when decoding. */
const UNK_SURFACE = ' \u2047 ';

/**
 * BPE merge rules equivalent to SentencePiece's BPE: a pair of adjacent pieces merges when their
 * concatenation is a vocabulary piece, the highest-scoring (lowest-id) result first. Every split of a
 * normal piece into two normal pieces is a rule, ranked by the piece's id (then by the halves' ids).
 */
function bpeMerges(model: SentencePieceModel): [string, string][] {
  const ids = new Map<string, number>();
  model.pieces.forEach((p, i) => {
    if (p.type === PieceType.NORMAL) ids.set(p.piece, i);
  });
  const merges: [string, string][] = [];
  for (const [piece] of ids) {
    const chars = Array.from(piece);
    const splits: [string, string][] = [];
    for (let k = 1; k < chars.length; k++) {
      const left = chars.slice(0, k).join('');
      const right = chars.slice(k).join('');
      if (ids.has(left) && ids.has(right)) splits.push([left, right]);
    }
    splits.sort((x, y) => ids.get(x[0])! - ids.get(y[0])! || ids.get(x[1])! - ids.get(y[1])!);
    merges.push(...splits);
  }
  // `ids` iterates in id order, so the rules are already ranked by the merged piece's id.
  return merges;
}

/**
 * A SentencePiece tokenizer read from a `spiece.model` file, as the Reformer checkpoints of Hugging Face
 * ship (e.g. `google/reformer-crime-and-punishment`): unigram or BPE models. Encodings equal
 * SentencePiece's own (`SentencePieceProcessor.encode`): this class applies the model's compiled
 * normaliser and whitespace rules itself and runs the unigram / BPE segmentation of
 * `@huggingface/tokenizers` on the result; decoding follows SentencePiece's (`▁` → space, control
 * pieces dropped, unknown pieces as ` ⁇ `).
 */
export class SentencePieceTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly eosTokenId?: number;
  readonly padTokenId?: number;
  /** The id of unknown text. */
  readonly unkTokenId: number;
  private readonly normalize: (text: string) => string;
  private readonly segmenter: HFTokenizer;
  private readonly model: SentencePieceModel;
  private readonly knownChars: Set<string>;

  /** Reads a `spiece.model` file's bytes. Throws `TokenizerError` for anything else or an unsupported model. */
  static fromModelFile(bytes: Uint8Array | ArrayBuffer, what = 'spiece.model'): SentencePieceTokenizer {
    return new SentencePieceTokenizer(readSentencePieceModel(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), what), what);
  }

  private constructor(model: SentencePieceModel, what: string) {
    if (model.treatWhitespaceAsSuffix)
      throw new TokenizerError(`${what}: models trained with treat_whitespace_as_suffix are not supported.`);
    if (!model.splitByWhitespace) throw new TokenizerError(`${what}: models trained with split_by_whitespace = false are not supported.`);
    if (model.byteFallback) throw new TokenizerError(`${what}: models trained with byte_fallback are not supported.`);
    const userDefined = model.pieces.filter((p) => p.type === PieceType.USER_DEFINED).map((p) => p.piece);
    if (userDefined.length > 0)
      throw new TokenizerError(`${what}: user-defined symbols (${userDefined.slice(0, 5).join(', ')}) are not supported.`);
    this.model = model;
    this.vocabSize = model.pieces.length;
    this.unkTokenId = model.unkId;
    if (model.eosId >= 0) this.eosTokenId = model.eosId;
    if (model.padId >= 0) this.padTokenId = model.padId;
    this.normalize = createNormalizer(model);
    this.knownChars = new Set(model.pieces.filter((p) => p.type === PieceType.NORMAL).flatMap((p) => Array.from(p.piece)));
    // Pieces that segmentation must never produce (control and unused entries) are left out of the
    // segmenter's vocabulary by giving them a string no normalised text contains.
    const usable = (p: { piece: string; type: number }, i: number) =>
      p.type === PieceType.NORMAL || p.type === PieceType.UNKNOWN ? p.piece : `\u0000${i}`;
    const vocab = model.pieces.map(usable);
    const segmentation =
      model.modelType === 1
        ? { type: 'Unigram', unk_id: model.unkId, vocab: vocab.map((p, i) => [p, model.pieces[i]!.score]) }
        : {
            type: 'BPE',
            vocab: Object.fromEntries(vocab.map((p, i) => [p, i])),
            merges: bpeMerges(model),
            unk_token: model.pieces[model.unkId]!.piece,
            fuse_unk: true,
            byte_fallback: false,
          };
    this.segmenter = new HFTokenizer(
      { model: segmentation, normalizer: null, pre_tokenizer: null, decoder: null, post_processor: null, added_tokens: [] },
      {},
    );
  }

  encode(text: string): number[] {
    if (typeof text !== 'string') throw new InvalidArgumentError(`SentencePieceTokenizer.encode: expected a string, got ${typeof text}.`);
    const normalized = this.normalize(text);
    if (normalized === '') return [];
    return this.segmenter.encode(normalized, { add_special_tokens: false }).ids;
  }

  /**
   * The pieces of `text`, as SentencePiece's `encode(text, out_type=str)` gives them: vocabulary pieces,
   * and for unknown ids the normalised text they cover.
   */
  pieces(text: string): string[] {
    const chars = Array.from(this.normalize(text));
    let pos = 0;
    return this.encode(text).map((id) => {
      if (id !== this.unkTokenId) {
        const piece = this.model.pieces[id]!.piece;
        pos += Array.from(piece).length;
        return piece;
      }
      // An unknown run covers the characters no vocabulary piece contains (every character of a piece
      // is a piece of its own in SentencePiece vocabularies, so the run ends where the next piece starts).
      const start = pos;
      while (pos < chars.length && !this.knownChars.has(chars[pos]!)) pos++;
      return chars.slice(start, pos).join('');
    });
  }

  decode(ids: readonly number[]): string {
    let text = '';
    ids.forEach((id, i) => {
      checkTokenId('SentencePieceTokenizer.decode', `ids[${i}]`, id, this.vocabSize);
      const p = this.model.pieces[id]!;
      if (p.type === PieceType.UNKNOWN) text += UNK_SURFACE;
      else if (p.type === PieceType.NORMAL) {
        // The dummy prefix of the first piece is not text.
        const piece = text === '' && this.model.addDummyPrefix && p.piece.startsWith(SPACE_SYMBOL) ? p.piece.slice(1) : p.piece;
        text += piece.replaceAll(SPACE_SYMBOL, ' ');
      }
    });
    return text;
  }
}
