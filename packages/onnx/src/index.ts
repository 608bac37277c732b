// The generation and scoring functions, so that an ONNX user imports one package (and no tfjs).
export {
  type ByteScores,
  generate,
  generateBatch,
  generateText,
  type LoadProgress,
  type ScoreOptions,
  scoreBytes,
  scoreText,
} from '@megabyte/core/portable';
export {
  type ExportOptions,
  exportModel,
  type GraphManifest,
  type GraphRole,
  graphFileName,
  MANIFEST_FORMAT,
  type OnnxExport,
  type OnnxManifest,
} from './export.js';
export type { WeightType } from './graph-builder.js';
export { type LoadOnnxModelOptions, loadModel, onnxModelFromFiles } from './load-model.js';
export {
  type ExecutionProvider,
  OnnxModel,
  OnnxModelError,
  type OnnxModelFiles,
  type OnnxModelOptions,
} from './onnx-model.js';
export { type ModelSummary, OPSET, summarizeModel } from './onnx-proto.js';
export type { OrtModule } from './ort-types.js';
export { ProtoError } from './protobuf.js';
export {
  type BatchShape,
  encodeGraph,
  gradientGraph,
  natsGraph,
  TRAINING_NAMES,
  type TrainableParameter,
  updateGraph,
} from './training/training-graphs.js';
