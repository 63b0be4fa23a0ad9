import { tidy } from '../engine.js';
import { InvalidArgumentError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { zeros } from './creation.js';
import { gather, reshape } from './layout.js';

/**
 * The one check of `chunkedAttention`'s `positions` against what is indexed by position — its
 * `keyMask` `[B, L]`, and with `byPosition` the rows of q, k and v: every position must lie in
 * `[0, L)`. It gathers an int32 `[B, L]` table at the positions and drops the result, so the range
 * check is `gather`'s, which every backend implements and the conformance suite tests: an
 * out-of-range position is an `InvalidArgumentError`, thrown by this call on backends that check on
 * the host (CPU, tfjs) or by the next readback on backends that check on the device (WebGPU). The
 * kernels therefore never depend on what an out-of-range position reads.
 *
 * @param positions - int32 `[B, H, N]`, already shape-checked.
 * @param keyMask - int32 `[B, L]`, already shape-checked.
 * @internal
 */
export function checkMaskPositions(positions: Tensor, keyMask: Tensor): void {
  checkPositionsIn(
    positions,
    keyMask,
    (L) => `a position is outside the keyMask, which is indexed by position: with a keyMask of length ${L}`,
    'Pass a keyMask that covers every position.',
  );
}

/**
 * {@link checkMaskPositions} for `byPosition`: every position must be a row of q, k and v (`[0, L)`).
 * @internal
 */
export function checkRowPositions(positions: Tensor, L: number): void {
  tidy(() => {
    const table = zeros([positions.shape[0]!, L], 'int32');
    checkPositionsIn(
      positions,
      table,
      () => `with byPosition, a position is not a row of q, k and v: with ${L} rows`,
      'Pass q, k and v with a row for every position.',
    );
  });
}

function checkPositionsIn(positions: Tensor, table: Tensor, what: (L: number) => string, fix: string): void {
  const [B, H, N] = positions.shape as [number, number, number];
  const L = table.shape[1]!;
  try {
    tidy(() => {
      gather(table, reshape(positions, [B, H * N]), 1);
    });
  } catch (e) {
    if (!(e instanceof InvalidArgumentError)) throw e;
    const err = new InvalidArgumentError(`chunkedAttention: ${what(L)}, positions must be in 0..${L - 1} (${e.message}). ${fix}`);
    err.cause = e;
    throw err;
  }
}
