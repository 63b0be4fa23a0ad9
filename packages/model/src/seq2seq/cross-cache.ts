import { attendLast, type WindowKey } from '../generate/window.js';

/**
 * The decoding cache of one encoder–decoder attention layer: the encoder output's keys and values,
 * projected once per generation and kept on the host (`[batch][sourceLength, heads·d]`), and the
 * source padding mask. A new decoder token's query attends over every unmasked source position with
 * the fused kernel's rules (logits `q·k/√d`, padding replaced by −1e9, float32-rounded logsumexp),
 * through the same {@link attendLast} the self-attention caches use. @internal
 */
export class CrossAttentionCache {
  readonly #keys: Float32Array;
  readonly #values: Float32Array;
  readonly #window: WindowKey[][];
  readonly #shape: { batch: number; length: number; heads: number; headSize: number };

  /**
   * @param keys - `[batch, sourceLength, heads·headSize]` row-major.
   * @param values - the same layout.
   * @param mask - `[batch, sourceLength]` (1 = token, 0 = padding), or null for none.
   */
  constructor(
    keys: Float32Array,
    values: Float32Array,
    mask: Int32Array | null,
    shape: { batch: number; length: number; heads: number; headSize: number },
  ) {
    this.#keys = keys;
    this.#values = values;
    this.#shape = shape;
    this.#window = Array.from({ length: shape.batch }, (_, b) =>
      Array.from({ length: shape.length }, (_, p) => (mask !== null && mask[b * shape.length + p] === 0 ? -1 : p)),
    );
  }

  /** Attention outputs `[batch, heads·headSize]` for one query per batch row, `[batch, heads·headSize]`. */
  attend(queries: Float32Array): Float32Array {
    const { batch, length, heads, headSize } = this.#shape;
    const width = heads * headSize;
    const out = new Float64Array(batch * width);
    for (let b = 0; b < batch; b++) {
      const rows = {
        keys: this.#keys.subarray(b * length * width, (b + 1) * length * width),
        values: this.#values.subarray(b * length * width, (b + 1) * length * width),
        stride: width,
        width: headSize,
      };
      for (let h = 0; h < heads; h++) {
        const at = b * width + h * headSize;
        // query = the last source position: no key is "after" the query (no causality).
        attendLast(
          queries,
          at,
          this.#window[b]!,
          { ...rows, offset: h * headSize },
          { query: length - 1, scale: 1 / Math.sqrt(headSize), excludeSelf: false },
          out,
          at,
        );
      }
    }
    return Float32Array.from(out);
  }
}
