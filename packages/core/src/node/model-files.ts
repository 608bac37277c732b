import type { CheckpointDtype } from '../checkpoint/index.js';
import { decodeModel, encodeModel } from '../model-checkpoint.js';
import type { AnyModel } from '../models.js';
import { readCheckpointDirectory, writeCheckpointDirectory } from './checkpoint-files.js';

/** Writes a model as a checkpoint directory (config.json + model.safetensors), atomically. */
export async function saveModel(
  model: AnyModel,
  dir: string,
  options: {
    dtype?: CheckpointDtype;
    extraFiles?: Record<string, string | Uint8Array>;
    metadata?: Record<string, string>;
  } = {},
): Promise<void> {
  const encoded = await encodeModel(model, options);
  await writeCheckpointDirectory(dir, { ...encoded, extraFiles: options.extraFiles });
}

/** Loads a model from a checkpoint directory; every problem with it is reported at once. */
export async function loadModel(dir: string): Promise<AnyModel> {
  const { config, weights, dir: resolved } = await readCheckpointDirectory(dir);
  return decodeModel({ config, weights }, resolved);
}
