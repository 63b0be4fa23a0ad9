export type { HeadConfig, ProblemType } from './config.js';
export { binaryCrossEntropyWithLogits, inferProblemType, sequenceClassificationLoss, spanLoss } from './losses.js';
export {
  ReformerClassificationHead,
  ReformerForSequenceClassification,
  type ClassificationLossOptions,
} from './sequence-classification.js';
export { ReformerForQuestionAnswering, type SpanLogits, type SpanLossOptions } from './question-answering.js';
