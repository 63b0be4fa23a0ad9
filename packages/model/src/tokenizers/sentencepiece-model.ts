import { ProtoReader } from './protobuf.js';
import { TokenizerError } from './tokenizer.js';

/** Kinds of SentencePiece vocabulary entries (`ModelProto.SentencePiece.Type`). */
export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** One vocabulary entry of a SentencePiece model. */
export interface Piece {
  piece: string;
  score: number;
  /** One of {@link PieceType}. */
  type: number;
}

/** What a tokenizer needs from a SentencePiece `ModelProto` (the `spiece.model` file). */
export interface SentencePieceModel {
  pieces: Piece[];
  /** 1 unigram, 2 BPE, 3 word, 4 char (`TrainerSpec.ModelType`). */
  modelType: number;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
  byteFallback: boolean;
  /** The normaliser's compiled character map (empty: no mapping). */
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
  treatWhitespaceAsSuffix: boolean;
  splitByWhitespace: boolean;
}

/**
 * Reads a SentencePiece model file (`spiece.model`, a serialised `sentencepiece.ModelProto`): the
 * vocabulary with scores and types, the trainer settings that change encoding, and the normaliser.
 * Field numbers and defaults are those of `sentencepiece_model.proto`. Throws `TokenizerError` for
 * anything that is not such a file.
 */
export function readSentencePieceModel(bytes: Uint8Array, what = 'spiece.model'): SentencePieceModel {
  const model: SentencePieceModel = {
    pieces: [],
    modelType: 1,
    unkId: 0,
    bosId: 1,
    eosId: 2,
    padId: -1,
    byteFallback: false,
    precompiledCharsmap: new Uint8Array(0),
    addDummyPrefix: true,
    removeExtraWhitespaces: true,
    escapeWhitespaces: true,
    treatWhitespaceAsSuffix: false,
    splitByWhitespace: true,
  };
  const top = new ProtoReader(bytes, what);
  while (!top.done) {
    const { field, wire } = top.tag();
    if (field === 1 && wire === 2) model.pieces.push(readPiece(new ProtoReader(top.bytesField(), what)));
    else if (field === 2 && wire === 2) readTrainerSpec(new ProtoReader(top.bytesField(), what), model);
    else if (field === 3 && wire === 2) readNormalizerSpec(new ProtoReader(top.bytesField(), what), model);
    else top.skipField(wire);
  }
  if (model.pieces.length === 0) throw new TokenizerError(`${what}: not a SentencePiece model (no vocabulary pieces).`);
  if (model.modelType !== 1 && model.modelType !== 2) {
    throw new TokenizerError(
      `${what}: SentencePiece model type ${model.modelType} (word or char) is not supported; unigram (1) and BPE (2) are.`,
    );
  }
  const unk = model.pieces[model.unkId];
  if (unk === undefined || unk.type !== PieceType.UNKNOWN) {
    throw new TokenizerError(`${what}: the unknown piece id ${model.unkId} is not an UNKNOWN entry of the vocabulary.`);
  }
  return model;
}

function readPiece(r: ProtoReader): Piece {
  const p: Piece = { piece: '', score: 0, type: PieceType.NORMAL };
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === 2) p.piece = r.string();
    else if (field === 2 && wire === 5) p.score = r.float();
    else if (field === 3 && wire === 0) p.type = r.varint();
    else r.skipField(wire);
  }
  return p;
}

function readTrainerSpec(r: ProtoReader, m: SentencePieceModel): void {
  while (!r.done) {
    const { field, wire } = r.tag();
    if (wire !== 0) {
      r.skipField(wire);
      continue;
    }
    if (field === 3) m.modelType = r.varint();
    else if (field === 22) m.splitByWhitespace = r.varint() !== 0;
    else if (field === 24) m.treatWhitespaceAsSuffix = r.varint() !== 0;
    else if (field === 35) m.byteFallback = r.varint() !== 0;
    else if (field === 40) m.unkId = r.int32();
    else if (field === 41) m.bosId = r.int32();
    else if (field === 42) m.eosId = r.int32();
    else if (field === 43) m.padId = r.int32();
    else r.varint();
  }
}

function readNormalizerSpec(r: ProtoReader, m: SentencePieceModel): void {
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 2 && wire === 2) m.precompiledCharsmap = r.bytesField();
    else if (field === 3 && wire === 0) m.addDummyPrefix = r.varint() !== 0;
    else if (field === 4 && wire === 0) m.removeExtraWhitespaces = r.varint() !== 0;
    else if (field === 5 && wire === 0) m.escapeWhitespaces = r.varint() !== 0;
    else r.skipField(wire);
  }
}
