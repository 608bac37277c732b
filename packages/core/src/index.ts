export {
  ByteModel,
  type ForwardOptions,
  idsTensor,
  type LossOptions,
  maskedCrossEntropy,
  type NatsOptions,
  sequenceNats,
} from './byte-model.js';
export { createDecoder } from './generation/decoder.js';
export { type LoadModelOptions, loadModel, modelFromFiles } from './loading/load-model.js';
export { MegabyteModel } from './megabyte-model.js';
export {
  CHECKPOINT_FORMAT_VERSION,
  checkCheckpointWeights,
  decodeModel,
  encodeModel,
  validateCheckpoint,
} from './model-checkpoint.js';
export { type AnyModel, createModel } from './models.js';
export * from './portable.js';
export * from './runtime/index.js';
export { TransformerModel } from './transformer-model.js';
