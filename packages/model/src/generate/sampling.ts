import { checkInteger, checkNonNegative, checkNumber } from '@reformer/core';

/** How the next token is chosen from the logits. */
export interface SamplingOptions {
  /** Softmax temperature; 0 = greedy (argmax, the first maximum on ties). Default 1. */
  temperature?: number;
  /** Keep only the `topK` most likely tokens (0 or omitted: all). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches `topP` (1 or omitted: all). */
  topP?: number;
}

/** Validates sampling options; throws `InvalidArgumentError` naming the bad one. @internal */
export function checkSampling(where: string, o: SamplingOptions, vocab: number): Required<SamplingOptions> {
  const temperature = o.temperature ?? 1;
  const topK = o.topK ?? 0;
  const topP = o.topP ?? 1;
  checkNonNegative(where, 'temperature', temperature);
  checkInteger(where, 'topK', topK, 0, vocab);
  checkNumber(where, 'topP', topP, 0, 1, { minInclusive: false });
  return { temperature, topK, topP };
}

/**
 * The next token from one row of logits: argmax when `temperature` is 0; otherwise a draw from
 * `softmax(logits / temperature)` restricted to the top-k and then the top-p tokens, using the uniform
 * number `u` in [0, 1).
 */
export function sampleToken(logits: ArrayLike<number>, o: Required<SamplingOptions>, u: number): number {
  const n = logits.length;
  if (o.temperature === 0) {
    let best = 0;
    for (let i = 1; i < n; i++) if (logits[i]! > logits[best]!) best = i;
    return best;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  const keep = o.topK > 0 ? order.slice(0, o.topK) : order;
  const max = logits[keep[0]!]!;
  const weights = keep.map((i) => Math.exp((logits[i]! - max) / o.temperature));
  const total = weights.reduce((s, w) => s + w, 0);
  let cut = keep.length;
  if (o.topP < 1) {
    let mass = 0;
    for (let j = 0; j < keep.length; j++) {
      mass += weights[j]! / total;
      if (mass >= o.topP) {
        cut = j + 1;
        break;
      }
    }
  }
  const kept = weights.slice(0, cut);
  const keptTotal = kept.reduce((s, w) => s + w, 0);
  let target = u * keptTotal;
  for (let j = 0; j < cut; j++) {
    target -= kept[j]!;
    if (target < 0) return keep[j]!;
  }
  return keep[cut - 1]!;
}
