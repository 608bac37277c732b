export {
  type ByteLevelSpec,
  byteLevel,
  byteStep,
  projectConditioning,
  shiftBytes,
} from './byte-level.js';
export { type ByteLevelInit, LocalModel } from './local-model.js';
