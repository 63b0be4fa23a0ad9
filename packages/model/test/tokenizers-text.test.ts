// Text in, text out: the byte tokenizer, and generateText / streamText against generate on the same ids.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@reformer/core';
import { ByteTokenizer, ReformerModelWithLMHead, generate, generateText, streamText, type Tokenizer } from '../src/index.js';
import { tinyConfig } from './helpers.js';

describe('ByteTokenizer (the enwik8 model)', () => {
  const tok = new ByteTokenizer();

  it('encodes UTF-8 bytes shifted by 2, as the model card does', () => {
    expect(tok.vocabSize).toBe(258);
    expect(tok.encode('Hi!')).toEqual([72 + 2, 105 + 2, 33 + 2]);
    // é is two UTF-8 bytes (0xC3 0xA9).
    expect(tok.encode('é')).toEqual([0xc3 + 2, 0xa9 + 2]);
  });

  it('decodes any text back exactly, skipping padding and id 1', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (s) => {
        expect(tok.decode(tok.encode(s))).toBe(s);
        expect(tok.decode([0, ...tok.encode(s), 1, 0])).toBe(s);
      }),
      { seed: 3, numRuns: 300 },
    );
  });

  it('offset 0 gives the raw byte values (what charLMTask trains on)', () => {
    const raw = new ByteTokenizer({ offset: 0 });
    expect(raw.vocabSize).toBe(256);
    expect(raw.padTokenId).toBeUndefined();
    expect(raw.encode('Hi é')).toEqual([...new TextEncoder().encode('Hi é')]);
    expect(raw.decode(raw.encode('Hi é'))).toBe('Hi é');
    expect(() => new ByteTokenizer({ offset: -1 })).toThrow(/offset must be a non-negative integer/);
  });

  it('rejects ids outside the vocabulary and non-strings with named errors', () => {
    expect(() => tok.decode([258])).toThrow(InvalidArgumentError);
    expect(() => tok.decode([-1])).toThrow(/ids\[0\] = -1 is not a token id in \[0, 258\)/);
    expect(() => tok.encode(42 as unknown as string)).toThrow(/expected a string, got number/);
  });
});

/** A byte-level causal LM small enough to test with (vocabulary 258, 64 positions). */
function byteModel(seed: number): ReformerModelWithLMHead {
  return new ReformerModelWithLMHead(
    tinyConfig({ attn_layers: ['local', 'lsh'], vocab_size: 258, axial_pos_shape: [8, 8], initializer_range: 0.5 }),
    { seed },
  );
}

describe('generateText and streamText', () => {
  const tok = new ByteTokenizer();

  it('generateText decodes exactly what generate produces for the encoded prompt', async () => {
    const model = byteModel(5);
    // A short prompt, and one longer than the few prompt tokens the stream decodes in front of new ones.
    for (const prompt of ['Once', 'Once upon a time, né'])
      for (const options of [{ temperature: 0 }, { temperature: 1, topK: 20 }]) {
        const ids = await generate(model, [tok.encode(prompt)], { maxNewTokens: 20, seed: 9, ...options });
        const text = await generateText(model, tok, prompt, { maxNewTokens: 20, seed: 9, ...options });
        expect(text).toBe(tok.decode(ids[0]!).slice(prompt.length));
      }
    model.dispose();
  });

  it('streamText pieces concatenate to generateText, one piece per token at most', async () => {
    const model = byteModel(6);
    const pieces: string[] = [];
    for await (const piece of streamText(model, tok, 'ab', { maxNewTokens: 25, temperature: 1, seed: 4 })) pieces.push(piece);
    expect(pieces.length).toBeGreaterThan(0);
    expect(pieces.length).toBeLessThanOrEqual(25);
    expect(pieces.join('')).toBe(await generateText(model, tok, 'ab', { maxNewTokens: 25, temperature: 1, seed: 4 }));
    model.dispose();
  });

  it('a character split over several tokens is streamed whole, never as a premature U+FFFD', async () => {
    // Every id decodes to one byte of "é" (0xC3 0xA9): a lead byte for ids < 130, a continuation byte
    // otherwise. Sampled ids complete some characters and leave others broken; a stream that emitted a
    // lead byte's U+FFFD before the next token completed it would not concatenate to the final text.
    const model = byteModel(7);
    const halves: Tokenizer = {
      vocabSize: 258,
      encode: (t) => tok.encode(t),
      decode: (ids) => new TextDecoder().decode(Uint8Array.from(ids, (id) => (id < 130 ? 0xc3 : 0xa9))),
    };
    const options = { maxNewTokens: 40, temperature: 1, seed: 12 };
    const pieces: string[] = [];
    // The prompt 'ÿ' is two continuation bytes here: two U+FFFD that later bytes cannot change.
    for await (const piece of streamText(model, halves, 'ÿ', options)) pieces.push(piece);
    const text = await generateText(model, halves, 'ÿ', options);
    expect(pieces.join('')).toBe(text);
    expect(text).toContain('é');
    model.dispose();
  });

  it('stops at the tokenizer end-of-text id, which is not part of the text', async () => {
    const model = byteModel(8);
    const ids = await generate(model, [tok.encode('q')], { maxNewTokens: 12, temperature: 0, seed: 2 });
    const stopAt = ids[0]![3]!; // the third generated token
    const eosTok: Tokenizer = { vocabSize: 258, eosTokenId: stopAt, encode: (t) => tok.encode(t), decode: (i) => tok.decode(i) };
    const text = await generateText(model, eosTok, 'q', { maxNewTokens: 12, temperature: 0, seed: 2 });
    const firstEos = ids[0]!.slice(1).indexOf(stopAt);
    expect(text).toBe(tok.decode(ids[0]!.slice(1, 1 + firstEos)));
    // eosTokenId: null generates every token.
    expect(await generateText(model, eosTok, 'q', { maxNewTokens: 12, temperature: 0, seed: 2, eosTokenId: null })).toBe(
      tok.decode(ids[0]!.slice(1)),
    );
    model.dispose();
  });

  it('breaking out of the stream stops the generation', async () => {
    const model = byteModel(9);
    let tokens = 0;
    const counting: Tokenizer = {
      vocabSize: 258,
      encode: (t) => tok.encode(t),
      decode: (ids) => {
        tokens = Math.max(tokens, ids.length);
        return tok.decode(ids);
      },
    };
    for await (const piece of streamText(model, counting, 'a', { maxNewTokens: 50, temperature: 1, seed: 3 })) {
      void piece;
      break;
    }
    // prompt (1) + at most a couple of tokens decoded after the break, far fewer than 50.
    expect(tokens).toBeLessThan(10);
    model.dispose();
  });

  it('named errors for prompts that are not text or encode to nothing, and for missing options', async () => {
    const model = byteModel(10);
    await expect(generateText(model, tok, '', { maxNewTokens: 2 })).rejects.toThrow(/encodes to no tokens/);
    await expect(generateText(model, tok, 7 as unknown as string, { maxNewTokens: 2 })).rejects.toThrow(/must be a string/);
    await expect(generateText(model, tok, 'a', undefined as unknown as { maxNewTokens: number })).rejects.toThrow(InvalidArgumentError);
    model.dispose();
  });
});
