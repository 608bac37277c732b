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
export {
  type ByteScores,
  type ExecutionProvider,
  OnnxModel,
  OnnxModelError,
  type OnnxModelFiles,
  type OnnxModelOptions,
  type ScoreOptions,
} from './onnx-model.js';
export { type ModelSummary, OPSET, summarizeModel } from './onnx-proto.js';
export type { OrtModule } from './ort-types.js';
export { ProtoError } from './protobuf.js';
export {
  type BatchShape,
  encodeGraph,
  gradientGraph,
  TRAINING_NAMES,
  type TrainableParameter,
  updateGraph,
} from './training/training-graphs.js';
