import { formatShape, type Shape } from './types.js';

/** Base class of every error this library throws on bad input or misuse. */
export class ReformerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Two shapes that must agree do not. The message prints both. */
export class ShapeMismatchError extends ReformerError {}

/** Two shapes cannot be broadcast together. */
export class BroadcastError extends ReformerError {
  constructor(op: string, a: Shape, b: Shape) {
    super(
      `${op}: shapes ${formatShape(a)} and ${formatShape(b)} cannot be broadcast together: ` +
        'each axis, aligned from the right, must be equal or 1. Reshape or expand one of them.',
    );
  }
}

/** A tensor has the wrong dtype for an op, or two inputs disagree. */
export class DTypeError extends ReformerError {}

/** An op received tensors that live on different backends. */
export class BackendMismatchError extends ReformerError {}

/** A tensor was used after `dispose()` (directly, or by a `tidy` scope that ended). */
export class DisposedTensorError extends ReformerError {}

/** An axis is out of range for a tensor's rank. */
export class AxisError extends ReformerError {
  constructor(op: string, axis: number, rank: number) {
    super(`${op}: axis ${axis} is out of range for a tensor of rank ${rank}; valid axes are ${-rank}..${rank - 1}.`);
  }
}

/** An argument has an invalid value (negative size, bad option, out-of-range index...). */
export class InvalidArgumentError extends ReformerError {}

/** No backend of that name is registered, or it failed to start. */
export class BackendNotFoundError extends ReformerError {}

/** An operation that needs a synchronous read on a backend that only reads asynchronously. */
export class SyncReadError extends ReformerError {}

/** A gradient could not be computed (non-scalar output without `dy`, float required, ...). */
export class GradientError extends ReformerError {}

/** A safetensors buffer is corrupt, truncated or uses an unsupported dtype. */
export class SafetensorsError extends ReformerError {}

/**
 * A PyTorch checkpoint (`pytorch_model.bin`, `*.pt`) is truncated or corrupt, is not a PyTorch file, or
 * holds something other than a state dict of tensors. The message names the entry or tensor and what
 * to do.
 */
export class CheckpointFormatError extends ReformerError {}

/**
 * A pickle inside a PyTorch checkpoint refers to a function or class outside the allow-list of what a
 * state dict needs (for example `posix.system`). Nothing was executed: the reader stops at the
 * reference. The message names the global.
 */
export class PickleSecurityError extends CheckpointFormatError {}

/** Throws a `ShapeMismatchError` naming both shapes unless they are equal. */
export function assertSameShape(op: string, a: Shape, b: Shape, what = 'inputs'): void {
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
    throw new ShapeMismatchError(`${op}: ${what} must have the same shape, got ${formatShape(a)} and ${formatShape(b)}.`);
  }
}
