import {
  type ModelFiles,
  type ModelSource,
  ModelSourceError,
  type ReadModelOptions,
  readModelFiles,
} from '@megabyte/core/portable';
import type { OnnxManifest } from './export.js';
import { OnnxModel, type OnnxModelOptions } from './onnx-model.js';
import type { OrtModule } from './ort-types.js';

export interface LoadOnnxModelOptions extends ReadModelOptions, OnnxModelOptions {
  /** The ONNX Runtime module: `import * as ort from 'onnxruntime-web'` (or `onnxruntime-node`). */
  readonly onnxruntime: OrtModule;
}

/**
 * An ONNX export (`megabyte export`) on ONNX Runtime in one call: `source` is the URL of its
 * NAME.json manifest (or of a graph, or the files in memory); the graphs it lists are fetched with
 * progress, cancellation and Cache Storage (`options.graphs` picks fewer). No tfjs is loaded.
 * File paths: `loadModel` of `@megabyte/onnx/node`.
 */
export async function loadModel(source: ModelSource, options: LoadOnnxModelOptions): Promise<OnnxModel> {
  return onnxModelFromFiles(await readModelFiles(source, options), options);
}

/** Creates the sessions of files read by `readModelFiles`. */
export function onnxModelFromFiles(files: ModelFiles, options: LoadOnnxModelOptions): Promise<OnnxModel> {
  if (!options?.onnxruntime?.InferenceSession) {
    throw new TypeError(
      "loadModel: options.onnxruntime must be the ONNX Runtime module: import * as ort from 'onnxruntime-web' (or 'onnxruntime-node') and pass { onnxruntime: ort }",
    );
  }
  if (files.kind === 'checkpoint') {
    throw new ModelSourceError(
      `${files.source} is a tfjs checkpoint, not an ONNX export: export it with \`megabyte export --model ${files.source} --out NAME.onnx\`, or load it with loadModel from @megabyte/core`,
    );
  }
  return OnnxModel.load(
    options.onnxruntime,
    { manifest: files.manifest as unknown as OnnxManifest, graphs: files.graphs },
    options,
  );
}
