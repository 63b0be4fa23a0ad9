import { describe, expect, it } from 'vitest';
import { createCpuBackend } from '../src/cpu/index.js';
import { withBackend } from '../src/engine.js';
import { InvalidArgumentError } from '../src/errors.js';
import { tensor } from '../src/ops/creation.js';
import { crossEntropy } from '../src/ops/fused.js';
import { withoutFusedKernels } from '../src/testing/index.js';

// Bad input through a composite gets the same kind of named error as through the fused kernel.
describe('composite cross-entropy', () => {
  it('a label outside [0, V) that is not ignoreIndex is an InvalidArgumentError naming the rule', () => {
    for (const backend of [createCpuBackend(), withoutFusedKernels(createCpuBackend())]) {
      withBackend(backend, () => {
        const logits = tensor(new Float32Array(6), [2, 3]);
        const labels = tensor(new Int32Array([1, 3]), [2], 'int32');
        expect(() => crossEntropy(logits, labels)).toThrow(InvalidArgumentError);
        expect(() => crossEntropy(logits, labels)).toThrow(/label .*out of range for 3 classes/);
        const ignored = tensor(new Int32Array([1, -100]), [2], 'int32');
        expect(() => crossEntropy(logits, ignored).dispose()).not.toThrow();
      });
    }
  });
});
