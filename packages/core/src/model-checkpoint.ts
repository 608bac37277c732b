import * as tf from '@tensorflow/tfjs-core';
import {
  type CheckpointDtype,
  CheckpointError,
  checkParameters,
  decodeCheckpointWeights,
  type EncodedCheckpoint,
  encodeCheckpoint,
} from './checkpoint/index.js';
import { ConfigError, validateConfig } from './config.js';
import { type AnyModel, createModel } from './models.js';

/** Format version written into every config.json, so later readers can migrate old checkpoints. */
export const CHECKPOINT_FORMAT_VERSION = 1;

/** A model as the two files of a checkpoint: config.json text and model.safetensors bytes. */
export function encodeModel(
  model: AnyModel,
  options: { dtype?: CheckpointDtype; metadata?: Record<string, string> } = {},
): Promise<EncodedCheckpoint> {
  return encodeCheckpoint({
    config: { ...model.config, formatVersion: CHECKPOINT_FORMAT_VERSION },
    parameters: model.parameters().map((p) => ({ name: p.name, tensor: p.variable })),
    dtype: options.dtype ?? 'float32',
    metadata: { format: 'megabyte-ts', ...options.metadata },
  });
}

/**
 * Rebuilds a model from a parsed config.json and the bytes of model.safetensors. The config is
 * validated and every parameter is checked for name and shape before anything is built, so a
 * mismatched or corrupt checkpoint is an error that lists all its problems, never a wrong model.
 */
export function decodeModel(
  checkpoint: { config: unknown; weights: Uint8Array },
  source = 'checkpoint',
): AnyModel {
  const { formatVersion, ...rest } = (checkpoint.config ?? {}) as Record<string, unknown>;
  if (formatVersion !== undefined && formatVersion !== CHECKPOINT_FORMAT_VERSION) {
    throw new CheckpointError(
      `cannot load ${source}`,
      `config.json has formatVersion ${JSON.stringify(formatVersion)}; this version of megabyte-ts reads ${CHECKPOINT_FORMAT_VERSION}`,
      { hint: 'Upgrade megabyte-ts to read it.' },
    );
  }
  let config: ReturnType<typeof validateConfig>;
  try {
    config = validateConfig(rest);
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new CheckpointError(
        `cannot load ${source}: config.json is not a valid model config`,
        error.problems,
        { cause: error },
      );
    }
    throw error;
  }
  const tensors = decodeCheckpointWeights(checkpoint.weights);
  const model = createModel(config);
  try {
    checkParameters(
      model.parameters().map((p) => ({ name: p.name, shape: p.variable.shape })),
      tensors,
    );
    for (const p of model.parameters()) {
      const stored = tensors.get(p.name)!;
      tf.tidy(() => p.variable.assign(tf.tensor(stored.data, p.variable.shape, 'float32')));
    }
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}
