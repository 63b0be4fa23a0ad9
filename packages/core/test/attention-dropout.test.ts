import { describe, expect, it } from 'vitest';
import {
  ATTENTION_DROPOUT_SALT,
  attentionDropoutFactor,
  attentionDropoutKeeps,
  attentionDropoutRowKey,
  attentionDropoutWords,
  chunkedAttention,
  fmix32,
  hashAbsorb,
  InvalidArgumentError,
  tensor,
} from '../src/index.js';

// Expected words computed independently with Python integers (masking to 32 bits after every step):
// fmix32 = MurmurHash3's finaliser; absorb(h, x) = fmix32(h + x·0x9E3779B1);
// row = absorb(…absorb(fmix32(seedLo ^ 0x2545F491), seedHi), batch, head, round, queryPos); bits = absorb(row, keyPos).
describe('attention dropout hash', () => {
  it('fmix32 matches MurmurHash3 finaliser values computed in Python', () => {
    expect(fmix32(0)).toBe(0);
    expect(fmix32(1)).toBe(0x514e28b7);
    expect(fmix32(0xdeadbeef)).toBe(0x0de5c6a9);
    expect(ATTENTION_DROPOUT_SALT).toBe(0x2545f491);
  });

  it('the (seed, batch, head, round, query, key) hash matches a Python reference', () => {
    const cases: [number[], number][] = [
      [[0, 0, 0, 0, 0, 0], 4237273328],
      [[12345, 1, 2, 3, 40, 41], 3325693696],
      [[2 ** 40 + 17, 0, 1, 1, 5, 999], 2618544116],
      [[4099 * 123456 + 7, 1, 0, 0, 7, 3], 3919774776],
    ];
    for (const [[seed, b, h, r, qp, kp], want] of cases) {
      const w = attentionDropoutWords(0.5, seed!);
      expect(hashAbsorb(attentionDropoutRowKey(w, b!, h!, r!, qp!), kp!)).toBe(want);
      expect(attentionDropoutKeeps(w, attentionDropoutRowKey(w, b!, h!, r!, qp!), kp!)).toBe(want >= 2 ** 31);
    }
  });

  it('rate 0 keeps everything with factor 1; other rates scale by 1/(1 − rate)', () => {
    for (let k = 0; k < 100; k++) expect(attentionDropoutFactor(0, 7, 0, 0, 0, 3, k)).toBe(1);
    const f = new Set<number>();
    for (let k = 0; k < 200; k++) f.add(attentionDropoutFactor(0.2, 7, 1, 0, 2, 3, k));
    expect([...f].sort()).toEqual([0, 1 / 0.8]);
  });

  it('the kept fraction of each key component is 1 − rate (10 000 pairs per component, 5 sd)', () => {
    const rate = 0.3;
    const n = 10000;
    const sd = Math.sqrt((rate * (1 - rate)) / n);
    const vary: ((i: number) => number[])[] = [
      (i) => [i, 0, 0, 0, 0, 0],
      (i) => [5, i, 0, 0, 0, 0],
      (i) => [5, 0, i, 0, 0, 0],
      (i) => [5, 0, 0, i, 0, 0],
      (i) => [5, 0, 0, 0, i, 0],
      (i) => [5, 0, 0, 0, 0, i],
    ];
    for (const key of vary) {
      let kept = 0;
      for (let i = 0; i < n; i++) {
        const [s, b, h, r, qp, kp] = key(i);
        if (attentionDropoutFactor(rate, s!, b!, h!, r!, qp!, kp!) > 0) kept++;
      }
      expect(Math.abs(kept / n - (1 - rate))).toBeLessThan(5 * sd);
    }
  });

  it('chunkedAttention rejects a bad rate, seed or roundLength with InvalidArgumentError', () => {
    const q = tensor(new Float32Array(8), [1, 1, 8, 1]);
    const bad = [
      { rate: 1, seed: 1 },
      { rate: -0.1, seed: 1 },
      { rate: 0.1, seed: -1 },
      { rate: 0.1, seed: 1.5 },
      { rate: 0.1, seed: 1, roundLength: 3 },
      { rate: 0.1, seed: 1, roundLength: 0 },
    ];
    for (const dropout of bad) expect(() => chunkedAttention(q, q, q, { chunkLength: 4, dropout })).toThrow(InvalidArgumentError);
    q.dispose();
  });
});
