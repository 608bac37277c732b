// The Node file reading of `@megabyte/core/node` without tfjs, for @megabyte/onnx's Node entry.
export { defaultCacheDirectory, directoryLister, readModelFilesNode } from './model-source.js';
