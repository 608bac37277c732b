export {
  type ByteLevelInit,
  type ByteLevelSpec,
  byteLevel,
  byteLevelParameters,
  byteStep,
  projectConditioning,
  shiftBytes,
} from './byte-level.js';
