/**
 * Composite of the signed argmax (the bucket rule of angular LSH) from primitives: the row and its
 * negation concatenated, then the first maximum.
 *
 * @module
 */
import type { Backend, KernelTensor } from '../backend.js';
import { kernelScope } from './scope.js';

type KT = KernelTensor;

/** Index of the first maximum of `[x, −x]` along the last axis (removed), int32. */
export function signedArgMaxComposite(backend: Backend, x: KT): KT {
  return kernelScope(backend, [x], (k) => {
    const last = x.shape.length - 1;
    return k.argMax(k.concat([x, k.unary('neg', x)], last), last);
  });
}
