// SentencePiece tokenizers against SentencePiece itself: test/fixtures/tokenizers/make.py trained a BPE and
// a unigram model (with SentencePiece's default nmt_nfkc normaliser) and recorded, for probe texts,
// SentencePiece's ids, pieces and decoding (expected.json).
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SentencePieceTokenizer, TokenizerError } from '../src/index.js';

interface Case {
  text: string;
  ids: number[];
  pieces: string[];
  decoded: string;
}
interface Expected {
  /** The first `named` cases are hand-written probes; the rest are random texts. */
  named: number;
  models: Record<'bpe' | 'unigram', { vocabSize: number; unkId: number; eosId: number; padId: number; cases: Case[] }>;
}
const fixtures = new URL('./fixtures/tokenizers/', import.meta.url);
const expected = JSON.parse(readFileSync(new URL('expected.json', fixtures), 'utf8')) as Expected;
const load = (kind: string) => SentencePieceTokenizer.fromModelFile(readFileSync(new URL(`${kind}.model`, fixtures)));

describe.each(['bpe', 'unigram'] as const)('SentencePieceTokenizer (%s model)', (kind) => {
  const tok = load(kind);
  const ref = expected.models[kind];

  it('reads the vocabulary and special ids', () => {
    expect(tok.vocabSize).toBe(ref.vocabSize);
    expect(tok.unkTokenId).toBe(ref.unkId);
    expect(tok.eosTokenId).toBe(ref.eosId);
    expect(tok.padTokenId).toBeUndefined(); // pad_id −1: none
  });

  const named = ref.cases.slice(0, expected.named).map((c) => [JSON.stringify(c.text), c] as const);
  const random = ref.cases.slice(expected.named);

  it.each(named)('encodes %s as SentencePiece does', (_, c) => {
    expect(tok.encode(c.text)).toEqual(c.ids);
    expect(tok.pieces(c.text)).toEqual(c.pieces);
  });

  it.each(named)('decodes the ids of %s as SentencePiece does', (_, c) => {
    expect(tok.decode(c.ids)).toBe(c.decoded);
  });

  it(`encodes and decodes ${random.length} random texts (controls, odd spaces, unseen characters) as SentencePiece does`, () => {
    expect(random.length).toBeGreaterThanOrEqual(200);
    for (const c of random) {
      expect(tok.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids);
      expect(tok.pieces(c.text), JSON.stringify(c.text)).toEqual(c.pieces);
      expect(tok.decode(c.ids), JSON.stringify(c.text)).toBe(c.decoded);
    }
  });

  it('decoding then encoding is stable for text the vocabulary covers', () => {
    const words = ['the', 'reformer', 'attention', 'café', 'buckets', 'memory', 'grows', 'with', 'length'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...words), { minLength: 1, maxLength: 12 }), (ws) => {
        const text = ws.join(' ');
        expect(tok.decode(tok.encode(text))).toBe(text);
      }),
      { seed: 7, numRuns: 100 },
    );
  });

  it('rejects ids outside the vocabulary with a named error', () => {
    expect(() => tok.decode([ref.vocabSize])).toThrow(/is not a token id in \[0, \d+\)/);
    expect(() => tok.decode([1.5])).toThrow(/is not a token id/);
  });
});

describe('SentencePieceTokenizer.fromModelFile on other bytes', () => {
  it('is a TokenizerError for a file that is not a SentencePiece model', () => {
    expect(() => SentencePieceTokenizer.fromModelFile(new TextEncoder().encode('{"model": {}}'))).toThrow(TokenizerError);
    expect(() => SentencePieceTokenizer.fromModelFile(new Uint8Array(0))).toThrow(/no vocabulary pieces/);
  });

  it('is a TokenizerError, never a raw exception, for any truncation of a model file', () => {
    const bytes = readFileSync(new URL('unigram.model', fixtures));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), (n) => {
        try {
          SentencePieceTokenizer.fromModelFile(bytes.subarray(0, n));
        } catch (e) {
          expect(e).toBeInstanceOf(TokenizerError);
          return;
        }
        // A cut between whole fields can still be a readable (smaller) model: it must then encode.
        expect(Array.isArray(SentencePieceTokenizer.fromModelFile(bytes.subarray(0, n)).encode('the'))).toBe(true);
      }),
      { seed: 11, numRuns: 200 },
    );
  });
});
