export {
  type EngineStep,
  type MicroBatch,
  type OptimizerSettings,
  type StepSettings,
  TfjsEngine,
  type TrainingEngine,
  type TrainingEngineFactory,
} from './engine.js';
export {
  EVALUATION_MODES,
  type EvaluationMode,
  type EvaluationOptions,
  type EvaluationResult,
  evaluateStream,
  type WindowNats,
} from './evaluate.js';
export { type OnnxRuntimeEngineOptions, onnxRuntimeEngine, onnxRuntimeScorer } from './onnxruntime-engine.js';
export * from './optim-index.js';
export {
  BEST_DIR,
  CHECKPOINTS_DIR,
  isStepDirectoryName,
  pickRunCheckpoint,
  runDirectoryOf,
  stepDirectoryName,
} from './run-layout.js';
export {
  type CheckpointReason,
  type CheckpointSink,
  DEFAULT_TRAINING_OPTIONS,
  divergenceReason,
  type StepMetrics,
  Trainer,
  type TrainerData,
  type TrainerEvent,
  type TrainerHooks,
  TrainingDivergedError,
  type TrainingOptions,
  type TrainingState,
} from './trainer.js';
export { unigramBitsPerByte } from './unigram.js';
