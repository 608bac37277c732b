export { createDecoder } from './decoder.js';
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
} from './generate.js';
export type { DecoderOptions, IncrementalDecoder } from './incremental-decoder.js';
export {
  type ResolvedSamplingOptions,
  Sampler,
  type SamplingOptions,
  validateSamplingOptions,
} from './sampling.js';
export { SlidingWindowDecoder } from './sliding-window-decoder.js';
