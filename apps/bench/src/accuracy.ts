/**
 * The error of an output against exact attention. Pure host arithmetic (float64 accumulation).
 *
 * @module
 */

/** Error of an output against the exact attention on the same inputs. */
export interface AttentionError {
  /** Largest |output − exact| over all elements. */
  maxAbs: number;
  /** Mean over query rows of ‖output_row − exact_row‖₂ / ‖exact_row‖₂. */
  meanRel: number;
}

/**
 * Compares `output` with `exact`, both laid out as rows of `rowSize` (one row per query: `dHead` values).
 *
 * @throws {RangeError} if the sizes differ or are not a multiple of `rowSize`.
 */
export function attentionError(output: ArrayLike<number>, exact: ArrayLike<number>, rowSize: number): AttentionError {
  if (output.length !== exact.length || exact.length % rowSize !== 0 || rowSize < 1) {
    throw new RangeError(`attentionError: sizes ${output.length} and ${exact.length} must be equal multiples of the row size ${rowSize}.`);
  }
  let maxAbs = 0;
  let relSum = 0;
  const rows = exact.length / rowSize;
  for (let r = 0; r < rows; r++) {
    let num = 0;
    let den = 0;
    for (let j = r * rowSize; j < (r + 1) * rowSize; j++) {
      const e = exact[j]!;
      const diff = output[j]! - e;
      const a = Math.abs(diff);
      if (!(a <= maxAbs)) maxAbs = a; // NaN propagates
      num += diff * diff;
      den += e * e;
    }
    relSum += den > 0 ? Math.sqrt(num / den) : Math.sqrt(num);
  }
  return { maxAbs, meanRel: rows > 0 ? relSum / rows : 0 };
}
