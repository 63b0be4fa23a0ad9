import { fill, where, equal, scalar, type Tensor } from '@reformer/core';

/** The label value the losses ignore. */
export const IGNORE_INDEX = -100;

/** `ids` with −100 wherever `mask` is 0 (padding positions are not scored). */
export function ignorePadding(ids: Tensor, mask: Tensor): Tensor {
  return where(equal(mask, scalar(0, 'int32')), fill(ids.shape, IGNORE_INDEX, 'int32'), ids);
}
