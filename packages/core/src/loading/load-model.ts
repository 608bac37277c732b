import * as tf from '@tensorflow/tfjs-core';
import { decodeModel } from '../model-checkpoint.js';
import type { AnyModel } from '../models.js';
import {
  type ModelFiles,
  type ModelSource,
  ModelSourceError,
  type ReadModelOptions,
  readModelFiles,
} from './model-files.js';

export interface LoadModelOptions extends ReadModelOptions {
  /**
   * The tfjs backend to build the model on (`cpu`, `wasm`, `webgpu`, ...), made active first; its
   * package must be imported (e.g. `@tensorflow/tfjs-backend-wasm`). Default: the active one.
   */
  readonly backend?: string;
}

/**
 * A checkpoint as a tfjs model in one call: from a URL (fetched, with progress, cancellation and
 * Cache Storage), or from its files in memory. File paths: `loadModel` of `@megabyte/core/node`.
 * An ONNX export is loaded by `loadModel` of `@megabyte/onnx`, which needs no tfjs.
 */
export async function loadModel(source: ModelSource, options: LoadModelOptions = {}): Promise<AnyModel> {
  return modelFromFiles(await readModelFiles(source, options), options);
}

/** Builds the tfjs model of files read by `readModelFiles`. */
export async function modelFromFiles(
  files: ModelFiles,
  options: { backend?: string } = {},
): Promise<AnyModel> {
  if (files.kind === 'onnx') {
    throw new ModelSourceError(
      `${files.source} is an ONNX export: load it with loadModel from @megabyte/onnx (onnxruntime-web or -node, no tfjs), or load the checkpoint it was exported from`,
    );
  }
  if (options.backend !== undefined) await useBackend(options.backend);
  return decodeModel({ config: files.config, weights: files.weights }, files.source);
}

async function useBackend(name: string): Promise<void> {
  if (tf.getBackend() === name) return;
  const registered = Object.keys(tf.engine().registryFactory);
  if (!registered.includes(name)) {
    throw new Error(
      `tfjs backend "${name}" is not registered (registered: ${registered.join(', ') || 'none'}): import @tensorflow/tfjs-backend-${name} first`,
    );
  }
  if (!(await tf.setBackend(name))) throw new Error(`tfjs backend "${name}" failed to start here`);
}
