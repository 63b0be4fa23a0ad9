import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gradients, slice, tensor, tidy, type Tensor } from '@reformer/core';
import type { HostTensor } from '@reformer/core/node';
import {
  ReformerForQuestionAnswering,
  ReformerForSequenceClassification,
  sequenceClassificationLoss,
  spanLoss,
  type HeadConfig,
  type ProblemType,
} from '../src/index.js';
import { expectClose, get, loadFixture, toTensor, type Fixture } from './helpers.js';

// PyTorch reference of Hugging Face's head and loss code (fixtures/heads-reference/generate.py) on the
// sequence output of the seqcls-mixed Hugging Face fixture: multi-label, regression, ignored labels,
// problem_type inference and the question-answering span loss with its clamping.
interface Labels {
  dtype?: 'int32' | 'float32';
  shape: number[];
  values: number[];
}
interface Case {
  kind: 'classification' | 'qa';
  num_labels?: number;
  problem_type_given?: ProblemType | null;
  problem_type?: ProblemType;
  labels?: Labels;
  start_positions?: Labels;
  end_positions?: Labels;
  logits?: number[];
  start_logits?: number[];
  end_logits?: number[];
  loss: number | null;
  grad?: Record<string, number[]>;
}
const reference = JSON.parse(readFileSync(new URL('./fixtures/heads-reference/reference.json', import.meta.url), 'utf8')) as {
  weights: Record<string, number[]>;
  cases: Record<string, Case>;
};

const worst = new Map<string, number>();
/** {@link expectClose}, remembering the largest error per kind (printed at the end). */
function close(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number, what: string): void {
  const kind = what.startsWith('grad') ? 'grads' : what;
  worst.set(kind, Math.max(worst.get(kind) ?? 0, expectClose(actual, expected, atol, rtol, what)));
}
afterAll(() => console.info(`heads-reference max |error|: ${[...worst].map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`));

let fx: Fixture;
let ids: Tensor;
let hidden: Tensor;
let rotations: (Tensor | undefined)[];

const host = (values: number[], shape: number[]): HostTensor => ({ dtype: 'float32', shape, values: Float32Array.from(values) });
const labelsTensor = (l: Labels): Tensor =>
  tensor(l.dtype === 'float32' ? Float32Array.from(l.values) : Int32Array.from(l.values), l.shape, l.dtype ?? 'int32');

/** The fixture's encoder weights and `head` in place of its classifier. */
function weightsWith(head: Record<string, HostTensor>): Map<string, HostTensor> {
  const out = new Map([...fx.weights].filter(([name]) => !name.startsWith('classifier.')));
  for (const [k, v] of Object.entries(head)) out.set(k, v);
  return out;
}

/** The fixture's config with another head. */
function configWith(overrides: Partial<HeadConfig>): Partial<HeadConfig> {
  const { id2label: _i, label2id: _l, num_labels: _n, problem_type: _p, ...rest } = fx.config as unknown as HeadConfig;
  return { ...rest, ...overrides } as Partial<HeadConfig>;
}

beforeAll(async () => {
  fx = await loadFixture('seqcls-mixed');
  ids = toTensor(get(fx.io, 'input_ids'));
  hidden = toTensor(get(fx.io, 'hidden_states'));
  rotations = [undefined, toTensor(get(fx.rotations, 'layers.1.rotations'))];
});

const w = reference.weights;
const cases = Object.entries(reference.cases);

describe('ReformerForSequenceClassification: every problem_type against the PyTorch reference', () => {
  for (const [name, c] of cases.filter(([, c]) => c.kind === 'classification')) {
    it(name, () => {
      const n = c.num_labels!;
      const model = new ReformerForSequenceClassification(configWith({ num_labels: n, problem_type: c.problem_type_given ?? null }), {
        seed: 3,
      });
      model.loadStateDict(
        weightsWith({
          'classifier.dense.weight': host(w['classifier.dense.weight']!, [32, 64]),
          'classifier.dense.bias': host(w['classifier.dense.bias']!, [32]),
          'classifier.out_proj.weight': host(w[`classifier.out_proj.${n}.weight`]!, [n, 32]),
          'classifier.out_proj.bias': host(w[`classifier.out_proj.${n}.bias`]!, [n]),
        }),
      );
      const labels = labelsTensor(c.labels!);
      tidy(() => {
        close(model.forward(ids, { rotations }).dataSync(), c.logits!, 1e-5, 0, 'logits');
        const named = [...model.classifier.namedParameters()].map(([k, p]) => [`classifier.${k}`, p] as const);
        const { value, grads } = gradients(
          () => model.loss(ids, { labels, rotations }),
          named.map(([, p]) => p),
        );
        expect(model.config.problem_type).toBe(c.problem_type);
        if (c.loss === null) {
          expect(Number.isNaN(value.dataSync()[0]!), 'loss is NaN, as in PyTorch').toBe(true);
          return;
        }
        close(value.dataSync(), [c.loss], 1e-5, 0, 'loss');
        named.forEach(([k], i) => {
          if (c.grad![k] !== undefined) close(grads[i]!.dataSync(), c.grad![k]!, 1e-4, 1e-3, `grad.${k}`);
        });
        const dHidden = c.grad!['hidden_states[:, 0, :]'];
        if (dHidden !== undefined) {
          const [g] = gradients(
            () => sequenceClassificationLoss(model.classifier.forward(hidden), labels, c.problem_type!),
            [hidden],
          ).grads;
          close(slice(g!, [0, 0, 0], [2, 1, 64]).dataSync(), dHidden, 1e-4, 1e-3, 'grad.hidden_states[:, 0, :]');
          expect(Math.max(...slice(g!, [0, 1, 0], [2, 63, 64]).dataSync().map(Math.abs)), 'only position 0 gets a gradient').toBe(0);
        }
      });
      model.dispose();
    });
  }
});

describe('ReformerForQuestionAnswering: span logits and the clamped span loss against the PyTorch reference', () => {
  for (const [name, c] of cases.filter(([, c]) => c.kind === 'qa')) {
    it(name, () => {
      const model = new ReformerForQuestionAnswering(configWith({}), { seed: 3 });
      model.loadStateDict(
        weightsWith({ 'qa_outputs.weight': host(w['qa_outputs.weight']!, [2, 64]), 'qa_outputs.bias': host(w['qa_outputs.bias']!, [2]) }),
      );
      const startPositions = labelsTensor(c.start_positions!);
      const endPositions = labelsTensor(c.end_positions!);
      tidy(() => {
        const { startLogits, endLogits } = model.forward(ids, { rotations });
        expect(startLogits.shape).toEqual([2, 64]);
        close(startLogits.dataSync(), c.start_logits!, 1e-5, 0, 'startLogits');
        close(endLogits.dataSync(), c.end_logits!, 1e-5, 0, 'endLogits');
        const params = [model.qa_outputs.weight, model.qa_outputs.bias!];
        const { value, grads } = gradients(() => model.loss(ids, { startPositions, endPositions, rotations }), params);
        if (c.loss === null) {
          expect(Number.isNaN(value.dataSync()[0]!), 'loss is NaN, as in PyTorch').toBe(true);
          return;
        }
        close(value.dataSync(), [c.loss], 1e-5, 0, 'loss');
        close(grads[0]!.dataSync(), c.grad!['qa_outputs.weight']!, 1e-4, 1e-3, 'grad.qa_outputs.weight');
        close(grads[1]!.dataSync(), c.grad!['qa_outputs.bias']!, 1e-4, 1e-3, 'grad.qa_outputs.bias');
        const dHidden = c.grad!['hidden_states'];
        if (dHidden !== undefined) {
          const [g] = gradients(() => {
            const s = model.spanLogits(hidden);
            return spanLoss(s.startLogits, s.endLogits, startPositions, endPositions);
          }, [hidden]).grads;
          close(g!.dataSync(), dHidden, 1e-4, 1e-3, 'grad.hidden_states');
        }
      });
      model.dispose();
    });
  }
});
