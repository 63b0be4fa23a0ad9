import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DTypeError, InvalidArgumentError, ShapeMismatchError, StateDictError, gradients, tensor, tidy } from '@reformer/core';
import {
  CheckpointError,
  ReformerConfigError,
  ReformerForQuestionAnswering,
  ReformerForSequenceClassification,
  loadModel,
  serializeModel,
} from '../src/index.js';
import { loadModelFromDir, saveModel } from '../src/node.js';
import { randomIds, tinyConfig } from './helpers.js';

const tiny = tinyConfig({ is_decoder: false, hash_seed: 5 });
const ids = () => tensor(randomIds(9, 2 * 32, 0, 24), [2, 32], 'int32');

describe('heads: checkpoints with Hugging Face names and config fields', () => {
  it('sequence classification: config.json has architectures, num_labels, id2label, label2id, problem_type; round trip is exact', async () => {
    const model = new ReformerForSequenceClassification(
      {
        ...tiny,
        id2label: { 0: 'negative', 1: 'neutral', 2: 'positive' },
        problem_type: 'single_label_classification',
        classifier_dropout: 0.1,
      },
      { seed: 3 },
    );
    const dir = await mkdtemp(join(tmpdir(), 'reformer-heads-'));
    await saveModel(dir, model);
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    expect(config.architectures).toEqual(['ReformerForSequenceClassification']);
    expect(config.num_labels).toBe(3);
    expect(config.id2label).toEqual({ 0: 'negative', 1: 'neutral', 2: 'positive' });
    expect(config.label2id).toEqual({ negative: 0, neutral: 1, positive: 2 });
    expect(config.problem_type).toBe('single_label_classification');
    expect(config.classifier_dropout).toBe(0.1);
    expect([...model.stateDict().keys()].filter((k) => !k.startsWith('reformer.'))).toEqual([
      'classifier.dense.weight',
      'classifier.dense.bias',
      'classifier.out_proj.weight',
      'classifier.out_proj.bias',
    ]);
    const loaded = await loadModelFromDir(dir);
    expect(loaded).toBeInstanceOf(ReformerForSequenceClassification);
    const back = loaded as ReformerForSequenceClassification;
    expect(back.config.id2label).toEqual(model.config.id2label);
    model.eval();
    back.eval();
    tidy(() => expect(back.forward(ids()).dataSync()).toEqual(model.forward(ids()).dataSync()));
    model.dispose();
    loaded.dispose();
  });

  it('question answering: qa_outputs.{weight,bias}, round trip through in-memory buffers is exact', async () => {
    const model = new ReformerForQuestionAnswering(tiny, { seed: 4 });
    expect([...model.stateDict().keys()].filter((k) => !k.startsWith('reformer.'))).toEqual(['qa_outputs.weight', 'qa_outputs.bias']);
    const files = await serializeModel(model);
    expect(JSON.parse(files.config).architectures).toEqual(['ReformerForQuestionAnswering']);
    const loaded = loadModel({ config: files.config, weights: files.weights });
    expect(loaded).toBeInstanceOf(ReformerForQuestionAnswering);
    model.eval();
    loaded.eval();
    tidy(() => {
      const a = model.forward(ids());
      const b = (loaded as ReformerForQuestionAnswering).forward(ids());
      expect(b.startLogits.dataSync()).toEqual(a.startLogits.dataSync());
      expect(b.endLogits.dataSync()).toEqual(a.endLogits.dataSync());
    });
    model.dispose();
    loaded.dispose();
  });

  it('a classification checkpoint loaded as another architecture, or an unknown one, is refused by name', async () => {
    const model = new ReformerForSequenceClassification(tiny, { seed: 5 });
    const files = await serializeModel(model);
    const asMlm = JSON.stringify({ ...JSON.parse(files.config), architectures: ['ReformerForMaskedLM'] });
    let error: unknown;
    try {
      loadModel({ config: asMlm, weights: files.weights });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StateDictError);
    expect((error as StateDictError).unexpected).toEqual(expect.arrayContaining(['classifier.dense.weight']));
    expect((error as StateDictError).missing).toEqual(expect.arrayContaining(['lm_head.decoder.weight']));
    const unknown = JSON.stringify({ ...JSON.parse(files.config), architectures: ['ReformerForTokenClassification'] });
    expect(() => loadModel({ config: unknown, weights: files.weights })).toThrow(CheckpointError);
    expect(() => loadModel({ config: unknown, weights: files.weights })).toThrow(
      /ReformerForSequenceClassification.*ReformerForQuestionAnswering|ReformerForQuestionAnswering.*ReformerForSequenceClassification/,
    );
    const dir = await mkdtemp(join(tmpdir(), 'reformer-heads-'));
    await saveModel(dir, model);
    await writeFile(join(dir, 'config.json'), asMlm);
    await expect(loadModelFromDir(dir)).rejects.toThrow(StateDictError);
    model.dispose();
  });
});

describe('heads: config rules', () => {
  it('num_labels comes from id2label (as Hugging Face); default 2 labels LABEL_0, LABEL_1', () => {
    const a = new ReformerForSequenceClassification(tiny, { seed: 1 });
    expect(a.numLabels).toBe(2);
    expect(a.config.id2label).toEqual({ 0: 'LABEL_0', 1: 'LABEL_1' });
    expect(a.config.label2id).toEqual({ LABEL_0: 0, LABEL_1: 1 });
    expect(a.config.problem_type).toBeNull();
    const b = new ReformerForSequenceClassification({ ...tiny, id2label: { 0: 'a', 1: 'b', 2: 'c', 3: 'd' } }, { seed: 1 });
    expect(b.numLabels).toBe(4);
    expect(b.classifier.out_proj.weight.shape).toEqual([4, 16]);
    expect(b.classifier.dense.weight.shape).toEqual([16, 32]);
    a.dispose();
    b.dispose();
  });

  it('inconsistent or invalid head fields are refused with every problem named', () => {
    expect(() => new ReformerForSequenceClassification({ ...tiny, num_labels: 3, id2label: { 0: 'a', 1: 'b' } })).toThrow(
      /num_labels 3 disagrees with id2label/,
    );
    expect(() => new ReformerForSequenceClassification({ ...tiny, num_labels: 0 })).toThrow(ReformerConfigError);
    expect(() => new ReformerForSequenceClassification({ ...tiny, id2label: { 0: 'a', 2: 'b' } })).toThrow(
      /id2label must map the class indices/,
    );
    expect(() => new ReformerForSequenceClassification({ ...tiny, problem_type: 'ranking' as never })).toThrow(
      /problem_type must be null or one of/,
    );
    expect(() => new ReformerForSequenceClassification({ ...tiny, classifier_dropout: 1.5 })).toThrow(/classifier_dropout/);
    expect(() => new ReformerForQuestionAnswering({ ...tiny, num_labels: 3 })).toThrow(/num_labels must be 2/);
  });

  it('classifier_dropout (or hidden_dropout_prob when null) drops in training only', () => {
    const model = new ReformerForSequenceClassification({ ...tiny, classifier_dropout: 0.5 }, { seed: 2 });
    expect(model.classifier.dropout.rate).toBe(0.5);
    const fallback = new ReformerForSequenceClassification({ ...tiny, hidden_dropout_prob: 0.2 }, { seed: 2 });
    expect(fallback.classifier.dropout.rate).toBe(0.2);
    tidy(() => {
      model.eval();
      const a = model.forward(ids()).dataSync();
      expect(model.forward(ids()).dataSync()).toEqual(a);
      model.train();
      expect(model.forward(ids()).dataSync()).not.toEqual(a);
    });
    model.dispose();
    fallback.dispose();
  });
});

describe('heads: bad labels and positions get named errors', () => {
  const model = new ReformerForSequenceClassification({ ...tiny, num_labels: 3, problem_type: 'single_label_classification' }, { seed: 6 });
  const qa = new ReformerForQuestionAnswering(tiny, { seed: 6 });

  it('classification', () => {
    expect(() => model.loss(ids(), {} as never)).toThrow(InvalidArgumentError);
    expect(() => model.loss(ids(), { labels: tensor([0.5, 1], [2]) })).toThrow(DTypeError);
    expect(() => model.loss(ids(), { labels: tensor([0, 1, 2], [3], 'int32') })).toThrow(ShapeMismatchError);
    expect(() => model.loss(ids(), { labels: tensor([0, 3], [2], 'int32') })).toThrow(/label 3 of row 1 is out of range for 3 classes/);
    const multi = new ReformerForSequenceClassification(
      { ...tiny, num_labels: 3, problem_type: 'multi_label_classification' },
      { seed: 6 },
    );
    expect(() => multi.loss(ids(), { labels: tensor([1, 0], [2]) })).toThrow(/multi-hot labels \[2, 3\]/);
    multi.dispose();
  });

  it('question answering', () => {
    expect(() => qa.loss(ids(), { startPositions: tensor([0, 1], [2], 'int32') } as never)).toThrow(
      /startPositions and options.endPositions are both required/,
    );
    expect(() => qa.loss(ids(), { startPositions: tensor([0, 1], [2]), endPositions: tensor([0, 1], [2], 'int32') })).toThrow(DTypeError);
    expect(() => qa.loss(ids(), { startPositions: tensor([0, 1, 2], [3], 'int32'), endPositions: tensor([0, 1], [2], 'int32') })).toThrow(
      ShapeMismatchError,
    );
  });

  it('the reversible backward of a head loss equals plain backprop', () => {
    const params = [...qa.parameters()];
    const positions = { startPositions: tensor([3, -1], [2], 'int32'), endPositions: tensor([40, 7], [2], 'int32') };
    tidy(() => {
      qa.reformer.reversible = true;
      const a = gradients(() => qa.loss(ids(), positions), params).grads.map((g) => g!.dataSync());
      qa.reformer.reversible = false;
      const b = gradients(() => qa.loss(ids(), positions), params).grads.map((g) => g!.dataSync());
      qa.reformer.reversible = true;
      a.forEach((g, i) => g.forEach((v, j) => expect(Math.abs(v - b[i]![j]!)).toBeLessThan(1e-5)));
      expect(a.some((g) => g.some((v) => v !== 0))).toBe(true);
    });
  });
});
