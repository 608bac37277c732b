export { AdamW, type AdamWOptions, type AdamWState, type OptimizerParameter } from './adamw.js';
export {
  accumulateGradients,
  type ClippedGradients,
  clipByGlobalNorm,
  disposeGradients,
  type Gradients,
  globalNorm,
  gradientEntries,
  scaleGradients,
} from './clip.js';
export {
  type ConstantSchedule,
  type CosineSchedule,
  learningRateAt,
  type PolynomialSchedule,
  SCHEDULE_KINDS,
  type ScheduleConfig,
  validateSchedule,
} from './schedule.js';
