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
  add,
  broadcastTo,
  dispose,
  exp,
  expandDims,
  gather,
  gradients,
  logSumExp,
  mul,
  reshape,
  scalar,
  sub,
  sum,
  tensor,
  tidy,
  where,
  type Tensor,
} from '../src/index.js';
import { dropoutOf, makeProblem, windowOf, type AttentionProblem, type ProblemSpec } from '../src/testing/attention.js';
import { uploadProblem } from '../src/testing/attention-checks.js';
import { Rng } from '../src/testing/cases.js';

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

/**
 * An op-built reference of chunked attention with dropout: the window keys and values gathered into
 * `[B, H, N, W, ·]`, logits by mul/sum, replaced logits by `where`, `exp(s − logSumExp(s))`, the dropout
 * factors materialised as a `[B, H, N, W]` tensor (brute force, pair by pair, from
 * `attentionDropoutFactor`), then `Σ p·z·v`. Its gradients come from autograd through those ops —
 * independent of the fused kernel's hand-written backward.
 */
describe('fused chunkedAttention with dropout equals an op-built reference that materialises the mask', () => {
  function opReference(p: AttentionProblem, q: Tensor, k: Tensor, v: Tensor): { out: Tensor; lse: Tensor } {
    const W = p.chunkLength * (p.chunksBefore + 1 + p.chunksAfter);
    const { B, H, N, d, dv } = p;
    const slots = new Int32Array(N * W);
    const z = new Float32Array(B * H * N * W);
    const replaced = new Int32Array(B * H * N * W);
    const replacement = new Float32Array(B * H * N * W);
    for (let i = 0; i < N; i++) windowOf(p, i).forEach((j, w) => (slots[i * W + w] = j));
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const bh = b * H + h;
        for (let i = 0; i < N; i++) {
          for (let w = 0; w < W; w++) {
            const j = slots[i * W + w]!;
            const at = (bh * N + i) * W + w;
            z[at] = dropoutOf(p, b, h, i, j);
            const pq = p.positions ? p.positions[bh * N + i]! : i;
            const pk = p.positions ? p.positions[bh * N + j]! : j;
            const masked =
              (p.causal && pk > pq) ||
              (p.keyMask !== undefined && p.keyMask[b * p.L + pk] === 0) ||
              (p.buckets !== undefined && p.buckets[bh * N + j] !== p.buckets[bh * N + i]);
            if (p.excludeSelf && pk === pq) [replaced[at], replacement[at]] = [1, -1e5];
            else if (masked) [replaced[at], replacement[at]] = [1, -1e9];
          }
        }
      }
    }
    return tidy(() => {
      const idx = broadcastTo(tensor(slots, [1, 1, N * W], 'int32'), [B, H, N * W]);
      const kW = reshape(gather(k, idx, 2), [B, H, N, W, d]);
      const vW = reshape(gather(v, idx, 2), [B, H, N, W, dv]);
      const s = mul(sum(mul(expandDims(q, 3), kW), -1), scalar(p.scale));
      const sMasked = where(tensor(replaced, [B, H, N, W], 'int32'), tensor(replacement, [B, H, N, W]), s);
      const lse = logSumExp(sMasked, -1, true);
      const probs = mul(exp(sub(sMasked, lse)), tensor(z, [B, H, N, W]));
      return { out: sum(mul(expandDims(probs, -1), vW), 3), lse: reshape(lse, [B, H, N]) };
    });
  }

  const rng = new Rng(1717);
  const specs: ProblemSpec[] = [
    {
      B: 2,
      H: 2,
      nChunks: 4,
      chunkLength: 4,
      chunksBefore: 1,
      chunksAfter: 0,
      causal: true,
      excludeSelf: true,
      rounds: 2,
      keyMask: 'random',
      buckets: 0,
      scale: 1,
      dropout: 0.3,
    },
    {
      nChunks: 1,
      chunkLength: 8,
      chunksBefore: 2,
      chunksAfter: 1,
      rounds: 0,
      keyMask: 'none',
      buckets: 0,
      causal: false,
      excludeSelf: false,
      dropout: 0.5,
    },
    { B: 1, H: 2, d: 8, dv: 5, nChunks: 3, chunkLength: 4, chunksBefore: 1, chunksAfter: 1, rounds: 3, buckets: 2, dropout: 0.2 },
  ];
  for (const spec of specs) {
    const p = makeProblem(rng, spec);
    it(`${p.label}: out, lse and the gradients of q, k, v`, async () => {
      const { q, k, v, extras, options } = uploadProblem(p);
      const dOut = tensor(
        Float32Array.from({ length: p.B * p.H * p.N * p.dv }, () => rng.uniform(-1, 1)),
        [p.B, p.H, p.N, p.dv],
      );
      const objective = (r: { out: Tensor; lse: Tensor }) => add(sum(mul(r.out, dOut)), mul(sum(r.lse), scalar(0.25)));
      const fused = gradients(() => objective(chunkedAttention(q, k, v, options)), [q, k, v]);
      const ref = gradients(() => objective(opReference(p, q, k, v)), [q, k, v]);
      const fusedOut = chunkedAttention(q, k, v, options);
      const refOut = opReference(p, q, k, v);
      const close = async (a: Tensor, b: Tensor, what: string) => {
        const [x, y] = [await a.data(), await b.data()];
        let worst = 0;
        for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / (1e-4 + Math.abs(y[i]!)));
        expect(worst, what).toBeLessThan(1e-3);
      };
      await close(fusedOut.out, refOut.out, 'out');
      for (let g = 0; g < 3; g++) await close(fused.grads[g]!, ref.grads[g]!, `d${'qkv'[g]}`);
      dispose([
        q,
        k,
        v,
        dOut,
        ...extras,
        fused.value,
        ...fused.grads,
        ref.value,
        ...ref.grads,
        fusedOut.out,
        fusedOut.lse,
        refOut.out,
        refOut.lse,
      ]);
    });
  }
});
