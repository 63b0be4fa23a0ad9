/**
 * `@reformer/chunked-ffn` — position-wise layers applied slice by slice in forward and backward:
 * {@link chunked} for any function, the Reformer's {@link ChunkedFeedForward} block (Hugging Face
 * parameter names), and the {@link ChunkedLMHead} / {@link chunkedCrossEntropy} loss that never
 * materialises the `[batch, length, vocab]` logits.
 * @packageDocumentation
 */
export { chunked, type ChunkedOptions } from './chunked.js';
export {
  ChunkedFeedForward,
  FeedForwardDense,
  FeedForwardOutput,
  type ChunkedFeedForwardOptions,
  type FeedForwardActivation,
} from './feed-forward.js';
export {
  ChunkedLMHead,
  chunkedCrossEntropy,
  DEFAULT_LM_HEAD_CHUNK_SIZE,
  type ChunkedCrossEntropyOptions,
  type ChunkedLMHeadOptions,
} from './lm-head.js';
