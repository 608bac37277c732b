// What needs no tensor library: configs, the generation loop and sampling, sliding-window scoring,
// the checkpoint file format and reading model files. @megabyte/onnx builds on this entry only,
// so an ONNX user never loads (or installs) tfjs.

// The model definition over `Ops`, which @megabyte/onnx records into graphs.
export { convHistory, type PatchLevelSpec, patchStep } from '@megabyte/global';
export { type ByteLevelSpec, byteStep } from '@megabyte/local';
export type { AttentionFrame, LayerCache, Ops, StackSpec } from '@megabyte/nn/definition';
export * from './checkpoint/index.js';
export {
  type ByteLevelConfig,
  byteLevel,
  ConfigError,
  type LegacyMegabyteConfig,
  type LevelConfig,
  levelPatchSizes,
  levelScope,
  localPatchSize,
  MEGABYTE_PRESETS,
  type MegabyteConfig,
  type ModelConfig,
  type ModelConfigInput,
  type PatchLevelConfig,
  PRESET_NAMES,
  type PresetName,
  patchLevels,
  presetConfig,
  type StageConfig,
  TRANSFORMER_PRESETS,
  type TransformerConfig,
  validateConfig,
} from './config.js';
export {
  activationBytes,
  CONFIG_LIMITS,
  inferenceMemoryProblems,
  memoryBudget,
  parameterBytes,
  setMemoryBudget,
  trainingMemoryProblems,
} from './config-limits.js';
export {
  type BatchGenerateOptions,
  type DecoderSource,
  type GenerateOptions,
  type GenerationModel,
  generate,
  generateBatch,
  generateText,
  type PromptInput,
  utf8Chunks,
} from './generation/generate.js';
export type { DecoderOptions, IncrementalDecoder } from './generation/incremental-decoder.js';
export { type Columns, PatchSchedule, type PatchSteps } from './generation/patch-schedule.js';
export {
  type ResolvedSamplingOptions,
  Sampler,
  type SamplingOptions,
  validateSamplingOptions,
} from './generation/sampling.js';
export { SlidingWindowDecoder } from './generation/sliding-window-decoder.js';
export { type LevelGeometry, ModelGeometry, modelGeometry } from './geometry.js';
export {
  type CacheOption,
  cacheFile,
  DEFAULT_CACHE_NAME,
  type FetchedFile,
  type FetchFileOptions,
  fetchFile,
} from './loading/fetch-file.js';
export {
  type CheckpointModelFiles,
  type FileLister,
  type LoadProgress,
  type ModelFileMap,
  type ModelFiles,
  type ModelSource,
  ModelSourceError,
  memoryLister,
  ONNX_MANIFEST_FORMAT,
  type OnnxModelFileSet,
  type ReadModelOptions,
  readFromLister,
  readModelFiles,
} from './loading/model-files.js';
export {
  baselineLogits,
  baselineSpec,
  baselineStep,
  handDown,
  type MegabyteSpec,
  megabyteLogits,
  megabyteSpec,
  patchLevelsForward,
} from './model-definition.js';
export {
  flopsPerByte,
  type ParameterBreakdown,
  type ParameterShape,
  parameterBreakdown,
  parameterShapes,
} from './parameter-count.js';
export {
  type ByteScores,
  defaultStride,
  type ScoreOptions,
  type SlidingWindow,
  scoreBytes,
  scoreText,
  slidingWindows,
  type WindowScorer,
} from './scoring.js';
