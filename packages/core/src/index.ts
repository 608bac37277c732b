export {
  ByteModel,
  type ForwardOptions,
  idsTensor,
  type LossOptions,
  maskedCrossEntropy,
  type NatsOptions,
  sequenceNats,
} from './byte-model.js';
export * from './checkpoint/index.js';
export {
  ConfigError,
  levelPatchSizes,
  localPatchSize,
  MEGABYTE_PRESETS,
  type MegabyteConfig,
  type MiddleStageConfig,
  type ModelConfig,
  PRESET_NAMES,
  type PresetName,
  presetConfig,
  type StageConfig,
  TRANSFORMER_PRESETS,
  type TransformerConfig,
  validateConfig,
} from './config.js';
export {
  activationBytes,
  CONFIG_LIMITS,
  memoryBudget,
  parameterBytes,
  setMemoryBudget,
  trainingMemoryProblems,
} from './config-limits.js';
export * from './generation/index.js';
export { MegabyteModel } from './megabyte-model.js';
export {
  CHECKPOINT_FORMAT_VERSION,
  checkCheckpointWeights,
  decodeModel,
  encodeModel,
  validateCheckpoint,
} from './model-checkpoint.js';
export { type AnyModel, createModel } from './models.js';
export { flopsPerByte, type ParameterBreakdown, parameterBreakdown } from './parameter-count.js';
export * from './runtime/index.js';
export { TransformerModel } from './transformer-model.js';
