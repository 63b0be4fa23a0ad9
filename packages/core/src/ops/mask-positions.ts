import { tidy } from '../engine.js';
import { InvalidArgumentError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { gather, reshape } from './layout.js';

/**
 * The one check of `chunkedAttention`'s `positions` against its `keyMask` `[B, L]`: the mask is
 * indexed by position, so every position must lie in `[0, L)`. It gathers the mask at the positions
 * and drops the result, so the range check is `gather`'s, which every backend implements and the
 * conformance suite tests: an out-of-range position is an `InvalidArgumentError`, thrown by this call
 * on backends that check on the host (CPU, tfjs) or by the next readback on backends that check on
 * the device (WebGPU). The kernels therefore never depend on what an out-of-range position reads.
 *
 * @param positions - int32 `[B, H, N]`, already shape-checked.
 * @param keyMask - int32 `[B, L]`, already shape-checked.
 * @internal
 */
export function checkMaskPositions(positions: Tensor, keyMask: Tensor): void {
  const [B, H, N] = positions.shape as [number, number, number];
  const L = keyMask.shape[1]!;
  try {
    tidy(() => {
      gather(keyMask, reshape(positions, [B, H * N]), 1);
    });
  } catch (e) {
    if (!(e instanceof InvalidArgumentError)) throw e;
    const err = new InvalidArgumentError(
      `chunkedAttention: a position is outside the keyMask, which is indexed by position: with a keyMask of length ${L}, ` +
        `positions must be in 0..${L - 1} (${e.message}). Pass a keyMask that covers every position.`,
    );
    err.cause = e;
    throw err;
  }
}
