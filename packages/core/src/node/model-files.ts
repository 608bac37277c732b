import type { CheckpointDtype } from '../checkpoint/index.js';
import { type LoadModelOptions, modelFromFiles } from '../loading/load-model.js';
import type { ModelSource } from '../loading/model-files.js';
import { encodeModel } from '../model-checkpoint.js';
import type { AnyModel } from '../models.js';
import { writeCheckpointDirectory } from './checkpoint-files.js';
import { readModelFilesNode } from './model-source.js';

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

/**
 * A checkpoint as a tfjs model: `source` is a directory or a file of it (a path or file: URL), an
 * http(s) URL (cached in the directory `options.cache`), or the files in memory. Every problem with
 * the checkpoint is reported at once.
 */
export async function loadModel(source: ModelSource, options: LoadModelOptions = {}): Promise<AnyModel> {
  return modelFromFiles(await readModelFilesNode(source, options), options);
}
