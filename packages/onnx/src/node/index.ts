import type { ModelSource } from '@megabyte/core/portable';
import { readModelFilesNode } from '@megabyte/core/portable/node';
import { type LoadOnnxModelOptions, onnxModelFromFiles } from '../load-model.js';
import type { OnnxModel } from '../onnx-model.js';

/**
 * `loadModel` of `@megabyte/onnx` that also takes file paths: the export's NAME.json (or one of
 * its graphs, or its directory when it holds one export); http(s) URLs are cached in the
 * directory `options.cache`.
 */
export async function loadModel(source: ModelSource, options: LoadOnnxModelOptions): Promise<OnnxModel> {
  return onnxModelFromFiles(await readModelFilesNode(source, options), options);
}
