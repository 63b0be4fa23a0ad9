import { ShapeMismatchError } from '../errors.js';
import { runOp1 } from '../engine.js';
import type { Tensor } from '../tensor.js';
import { formatShape } from '../types.js';
import { unbroadcast } from './reduce.js';
import { broadcastShapes, requireDType, requireSameDType } from './util.js';

/**
 * Batched matrix product `op(a) · op(b)`, where op transposes the last two axes when the flag is set.
 * Both inputs have rank ≥ 2; leading (batch) axes broadcast. `a` `[..., M, K]`, `b` `[..., K, N]` →
 * `[..., M, N]`.
 */
export function matmul(a: Tensor, b: Tensor, transposeA = false, transposeB = false): Tensor {
  requireDType('matmul', 'float32', a);
  requireSameDType('matmul', a, b);
  if (a.rank < 2 || b.rank < 2) {
    throw new ShapeMismatchError(
      `matmul: both inputs need rank >= 2, got ${formatShape(a.shape)} and ${formatShape(b.shape)}. Use expandDims for vectors.`,
    );
  }
  const [m, ka] = transposeA ? [a.shape[a.rank - 1]!, a.shape[a.rank - 2]!] : [a.shape[a.rank - 2]!, a.shape[a.rank - 1]!];
  const [kb, n] = transposeB ? [b.shape[b.rank - 1]!, b.shape[b.rank - 2]!] : [b.shape[b.rank - 2]!, b.shape[b.rank - 1]!];
  if (ka !== kb) {
    throw new ShapeMismatchError(
      `matmul: inner dimensions differ: ${formatShape(a.shape)}${transposeA ? 'ᵀ' : ''} · ${formatShape(b.shape)}${transposeB ? 'ᵀ' : ''} (${ka} vs ${kb}).`,
    );
  }
  const batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  const outShape = [...batch, m, n];
  const aShape = a.shape;
  const bShape = b.shape;
  return runOp1({
    name: 'matmul',
    inputs: [a, b],
    kernel: (be, [ak, bk]) => be.matmul(ak!, bk!, transposeA, transposeB, outShape),
    backward: ([dy], [as, bs]) => {
      const g = dy!;
      const A = as!;
      const B = bs!;
      let da: Tensor;
      let db: Tensor;
      if (!transposeA && !transposeB) {
        da = matmul(g, B, false, true);
        db = matmul(A, g, true, false);
      } else if (transposeA && !transposeB) {
        da = matmul(B, g, false, true);
        db = matmul(A, g, false, false);
      } else if (!transposeA && transposeB) {
        da = matmul(g, B, false, false);
        db = matmul(g, A, true, false);
      } else {
        da = matmul(B, g, true, true);
        db = matmul(g, A, true, true);
      }
      return [unbroadcast(da, aShape), unbroadcast(db, bShape)];
    },
    save: (inputs) => [inputs[0]!, inputs[1]!],
  });
}
