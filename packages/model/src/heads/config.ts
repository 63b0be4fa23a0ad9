import { formatValue, isInteger } from '@reformer/core';
import { resolveConfig, ReformerConfigError, type ReformerConfig } from '../config.js';

/** Hugging Face's `problem_type` of a sequence-classification model: which loss `loss()` computes. */
export type ProblemType = 'single_label_classification' | 'multi_label_classification' | 'regression';

const PROBLEM_TYPES: readonly ProblemType[] = ['single_label_classification', 'multi_label_classification', 'regression'];

/**
 * The config fields of the classification and question-answering heads (Hugging Face's
 * `PretrainedConfig` names), on top of {@link ReformerConfig}.
 */
export interface HeadConfig extends ReformerConfig {
  /** Number of outputs of the head. Hugging Face derives it from `id2label`; default 2. */
  num_labels: number;
  /** Class index → name (string keys, as in a `config.json`). Default `LABEL_0`, `LABEL_1`, … */
  id2label: Record<string, string>;
  /** Class name → index. */
  label2id: Record<string, number>;
  /** The loss `loss()` computes; null: chosen at the first `loss()` call and stored here (Hugging Face's rule). */
  problem_type: ProblemType | null;
  /** Dropout of the classification head; null: `hidden_dropout_prob`. */
  classifier_dropout: number | null;
}

const show = formatValue;

/**
 * {@link resolveConfig} plus the head fields: `num_labels` from `id2label` when that is given (as
 * Hugging Face), else from `num_labels` (default 2), with `id2label` / `label2id` filled in as
 * `LABEL_i`; `problem_type` and `classifier_dropout` validated. Throws one `ReformerConfigError`
 * listing every problem. @internal
 */
export function resolveHeadConfig(config: Partial<HeadConfig>, where: string): HeadConfig {
  const c = resolveConfig(config) as HeadConfig;
  const problems: string[] = [];
  const given = c.id2label as unknown;
  let id2label: Record<string, string>;
  if (given !== undefined && given !== null) {
    const entries = typeof given === 'object' && !Array.isArray(given) ? Object.entries(given as Record<string, unknown>) : [];
    const keys = entries.map(([k]) => Number(k)).sort((a, b) => a - b);
    if (entries.length === 0 || !keys.every((k, i) => k === i) || !entries.every(([, v]) => typeof v === 'string')) {
      problems.push(`id2label must map the class indices 0…n−1 (n ≥ 1) to names, got ${show(given)}`);
      id2label = {};
    } else {
      id2label = Object.fromEntries(keys.map((k) => [String(k), (given as Record<string, string>)[String(k)]!]));
    }
    const n = c.num_labels as unknown;
    if (n !== undefined && n !== null && n !== entries.length && problems.length === 0) {
      problems.push(
        `num_labels ${show(n)} disagrees with id2label, which names ${entries.length} classes; give one of them, or both consistent`,
      );
    }
  } else {
    const n = (c.num_labels as unknown) ?? 2;
    if (!isInteger(n, 1)) {
      problems.push(`num_labels must be a positive integer, got ${show(n)}`);
      id2label = {};
    } else {
      id2label = Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), `LABEL_${i}`]));
    }
  }
  const problemType = (c.problem_type as unknown) ?? null;
  if (problemType !== null && !PROBLEM_TYPES.includes(problemType as ProblemType)) {
    problems.push(`problem_type must be null or one of ${PROBLEM_TYPES.map((p) => `"${p}"`).join(', ')}, got ${show(problemType)}`);
  }
  const dropout = (c.classifier_dropout as unknown) ?? null;
  if (dropout !== null && !(typeof dropout === 'number' && dropout >= 0 && dropout < 1)) {
    problems.push(`classifier_dropout must be null (use hidden_dropout_prob) or a probability in [0, 1), got ${show(dropout)}`);
  }
  if (problems.length > 0) throw new ReformerConfigError(problems.map((p) => `${where}: ${p}`));
  const names = Object.values(id2label);
  const label2id =
    c.label2id !== undefined && c.label2id !== null && typeof c.label2id === 'object'
      ? (c.label2id as Record<string, number>)
      : Object.fromEntries(names.map((name, i) => [name, i]));
  return {
    ...c,
    id2label,
    label2id,
    num_labels: names.length,
    problem_type: problemType as ProblemType | null,
    classifier_dropout: dropout as number | null,
  };
}
