import * as tf from '@tensorflow/tfjs-core';
import {
  CHECKPOINT_WEIGHTS_FILE,
  type CheckpointDtype,
  CheckpointError,
  type CheckpointTensor,
  decodeCheckpointWeights,
  type EncodedCheckpoint,
  encodeCheckpoint,
} from './checkpoint/index.js';
import { ConfigError, type ModelConfig, validateConfig } from './config.js';
import { type AnyModel, createModel } from './models.js';
import { parameterShapes } from './parameter-count.js';

/**
 * Format version written into every config.json, so later readers can migrate old checkpoints.
 * 2: a byte level with cross-patch attention and no `rotary` has rotary embeddings (version 1
 * had none; this reader reads both).
 */
export const CHECKPOINT_FORMAT_VERSION = 2;

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
 * Checks a parsed config.json and the bytes of model.safetensors against each other without
 * building a model: the config is validated (bounds included), then the weights are checked by
 * {@link checkCheckpointWeights}. `source` names the checkpoint (its directory) in errors.
 */
export function validateCheckpoint(
  checkpoint: { config: unknown; weights: Uint8Array },
  source = 'checkpoint',
): { config: ModelConfig; tensors: Map<string, CheckpointTensor> } {
  const { formatVersion, ...rest } = (checkpoint.config ?? {}) as Record<string, unknown>;
  if (formatVersion !== undefined && formatVersion !== 1 && formatVersion !== CHECKPOINT_FORMAT_VERSION) {
    throw new CheckpointError(
      `cannot load ${source}`,
      `config.json has formatVersion ${JSON.stringify(formatVersion)}; this version of megabyte-ts reads 1 and ${CHECKPOINT_FORMAT_VERSION}`,
      { hint: 'Upgrade megabyte-ts to read it.' },
    );
  }
  let config: ModelConfig;
  try {
    config = validateConfig(formatVersion === 1 ? withoutRotaryDefault(rest) : rest);
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
  return { config, tensors: checkCheckpointWeights(config, checkpoint.weights, weightsSource(source)) };
}

/**
 * Rebuilds a model from a parsed config.json and the bytes of model.safetensors. Everything
 * {@link validateCheckpoint} checks, every tensor's name, dtype and shape included, comes before
 * anything is built, so a mismatched or corrupt checkpoint is an error that lists all its
 * problems, never a wrong model nor memory spent on one.
 */
export function decodeModel(
  checkpoint: { config: unknown; weights: Uint8Array },
  source = 'checkpoint',
): AnyModel {
  const { config, tensors } = validateCheckpoint(checkpoint, source);
  const model = createModel(config);
  try {
    for (const p of model.parameters()) {
      // The tensors were checked against parameterShapes(config), which tests hold equal to this.
      const stored = tensors.get(p.name);
      if (stored === undefined) throw new Error(`bug: parameterShapes(config) does not list ${p.name}`);
      tf.tidy(() => p.variable.assign(tf.tensor(stored.data, p.variable.shape, 'float32')));
    }
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}

/** The weights file of a checkpoint named by `source` (a directory, or a generic name). */
function weightsSource(source: string): string {
  return source === 'checkpoint' ? CHECKPOINT_WEIGHTS_FILE : `${source}/${CHECKPOINT_WEIGHTS_FILE}`;
}

/**
 * Decodes model.safetensors and checks it against a validated config before any model is built:
 * the header's tensor names, dtypes and shapes against {@link parameterShapes} of the config (before
 * any data is widened to float32, so a config far larger than the file costs nothing), then every
 * value for NaN or infinity, naming each tensor that has one.
 */
export function checkCheckpointWeights(
  config: ModelConfig,
  weights: Uint8Array,
  source = CHECKPOINT_WEIGHTS_FILE,
): Map<string, CheckpointTensor> {
  const tensors = decodeCheckpointWeights(weights, source, parameterShapes(config));
  const problems: string[] = [];
  for (const [name, tensor] of tensors) {
    const bad = nonFiniteCount(tensor.data);
    if (bad > 0)
      problems.push(
        `tensor ${name} ${JSON.stringify(tensor.shape)} has ${bad} NaN or infinite value(s) of ${tensor.data.length}`,
      );
  }
  if (problems.length > 0) {
    throw new CheckpointError(`cannot load ${source}: its weights are not finite`, problems, {
      hint: 'The weights are corrupt or come from a diverged run: load an earlier checkpoint.',
    });
  }
  return tensors;
}

function nonFiniteCount(values: Float32Array): number {
  let bad = 0;
  // x - x is 0 for every finite x and NaN for NaN and the infinities.
  for (let i = 0; i < values.length; i++) if (values[i]! - values[i]! !== 0) bad++;
  return bad;
}

/**
 * A format-1 config as it was meant: its cross-patch attention had no rotary embeddings, which
 * format 2 gives a byte level that does not say `rotary` (either config form).
 */
function withoutRotaryDefault(config: Record<string, unknown>): Record<string, unknown> {
  const off = (level: unknown) =>
    level !== null &&
    typeof level === 'object' &&
    !('rotary' in level) &&
    (level as { crossPatch?: unknown }).crossPatch
      ? { ...level, rotary: false }
      : level;
  if (Array.isArray(config.levels))
    return { ...config, levels: [...config.levels.slice(0, -1), off(config.levels.at(-1))] };
  return 'local' in config ? { ...config, local: off(config.local) } : config;
}
