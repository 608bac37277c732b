export type {
  CheckpointContents,
  CheckpointDtype,
  CheckpointTensor,
  EncodeCheckpointOptions,
  EncodedCheckpoint,
  ExpectedParameter,
  NamedParameter,
  StoredFloatDtype,
} from './checkpoint.js';
export {
  CHECKPOINT_CONFIG_FILE,
  CHECKPOINT_WEIGHTS_FILE,
  checkParameters,
  decodeCheckpoint,
  decodeCheckpointWeights,
  encodeCheckpoint,
  parseCheckpointConfig,
} from './checkpoint.js';
export type { CheckpointErrorOptions } from './errors.js';
export { CheckpointError } from './errors.js';
export { float16ToFloat32, float32ToFloat16 } from './float16.js';
export type { DecodedSafetensors, SafetensorsDtype, SafetensorsTensor } from './safetensors.js';
export { decodeSafetensors, encodeSafetensors } from './safetensors.js';
