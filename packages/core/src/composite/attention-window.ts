/**
 * The windows of chunked attention: which key slots the queries of each chunk see.
 *
 * @module
 */

/**
 * Slot of every window key, chunk by chunk: the queries of chunk n (of `nChunks` chunks of
 * `chunkLength` slots) attend to chunks `n − chunksBefore, …, n + chunksAfter`, taken modulo
 * `nChunks` (wrap-around, as trax and Hugging Face do) and in that order, so entry `n·W + o·c + u`
 * (`W = c·(before + 1 + after)`) is slot `((n − before + o) mod nChunks)·c + u`. A chunk that occurs
 * twice in a window (few chunks, wide window) is attended twice.
 */
export function attentionWindowSlots(nChunks: number, chunkLength: number, chunksBefore: number, chunksAfter: number): Int32Array {
  const nWin = chunksBefore + 1 + chunksAfter;
  const W = chunkLength * nWin;
  const out = new Int32Array(nChunks * W);
  for (let n = 0; n < nChunks; n++) {
    for (let o = 0; o < nWin; o++) {
      const m = (((n - chunksBefore + o) % nChunks) + nChunks) % nChunks;
      for (let u = 0; u < chunkLength; u++) out[n * W + o * chunkLength + u] = m * chunkLength + u;
    }
  }
  return out;
}
