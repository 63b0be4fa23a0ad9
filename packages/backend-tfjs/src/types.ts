/** The tfjs types the backend is written against: the tfjs module, its tensors, and the storage handle. */
import type * as tfc from '@tensorflow/tfjs-core';

/** The `@tensorflow/tfjs-core` module (or `@tensorflow/tfjs`, or `@tensorflow/tfjs-node(-gpu)`). */
export type TfModule = typeof tfc;
/** A tfjs tensor. */
export type TfTensor = tfc.Tensor;
/** The storage handle of the tfjs backend: a kept tfjs tensor (any shape; kernels reshape it). */
export type TfjsStorage = tfc.Tensor;
