/**
 * Training tasks: the paper's synthetic {@link duplicationTask} and byte-level {@link charLMTask},
 * behind one {@link Task} interface that `train` and the `reformer-train` CLI consume.
 * @module
 */
export {
  scoreCausalLM,
  type CausalScores,
  type EvaluateOptions,
  type LanguageModel,
  type Metrics,
  type Task,
} from './task.js';
export { duplicationTask, type DuplicationOptions, type DuplicationTask } from './duplication.js';
export { charLMTask, type CharLMOptions, type CharLMTask } from './char-lm.js';
