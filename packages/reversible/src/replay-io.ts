/**
 * Moving the values of a core `ReplayRecord` in and out of a `customGrad`'s saved tensors. Saved tensors live exactly as long as the gradient tape that needs
 * them (they are freed with it even when the backward never reaches this op), which a `ReplayRecord`
 * kept in a closure would not.
 * @internal
 */
import { ReplayRecord, Tensor, clone } from '@reformer/core';

/** New handles (views) on every value of `rec`, in call order. The caller owns them. @internal */
export function exportRecord(rec: ReplayRecord): Tensor[] {
  return rec.values.map((t) => clone(t));
}

/** A record whose `replay` returns `values` in order (views; `values` stay owned by the caller). @internal */
export function importRecord(values: readonly Tensor[]): ReplayRecord {
  return ReplayRecord.from(values);
}

/** Per-call options split into their tensors (saved for the backward) and a way to rebuild them. @internal */
export interface SplitOptions<O> {
  /** The tensors found at the top level of the options (values, or arrays of tensors), in order. */
  readonly tensors: Tensor[];
  /** The options with those tensors replaced by `handles` (same order). */
  rebuild(handles: readonly Tensor[]): O | undefined;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const proto: unknown = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/**
 * Finds the tensors of an options object (`{ mask }`, `{ rotations: [..] }`), so that the reversible
 * backward can keep them alive — a mask created inside the differentiated function is disposed by
 * `gradients`' scope before the backward runs — and hand the same values to the recompute.
 * @internal
 */
export function splitOptions<O>(options: O | undefined): SplitOptions<O> {
  if (!isPlainObject(options)) return { tensors: [], rebuild: () => options };
  const entries: { key: string; count: number | null }[] = [];
  const tensors: Tensor[] = [];
  for (const [key, value] of Object.entries(options)) {
    if (value instanceof Tensor) {
      entries.push({ key, count: null });
      tensors.push(value);
    } else if (Array.isArray(value) && value.length > 0 && value.every((v) => v instanceof Tensor)) {
      entries.push({ key, count: value.length });
      tensors.push(...(value as Tensor[]));
    }
  }
  const snapshot = { ...options };
  return {
    tensors,
    rebuild(handles) {
      if (entries.length === 0) return snapshot as O;
      const out: Record<string, unknown> = { ...snapshot };
      let at = 0;
      for (const { key, count } of entries) {
        if (count === null) out[key] = handles[at++];
        else {
          out[key] = handles.slice(at, at + count);
          at += count;
        }
      }
      return out as O;
    },
  };
}
