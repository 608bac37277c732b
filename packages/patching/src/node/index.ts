export { writeFileAtomic } from './atomic-write.js';
export {
  type ReadDirectoryOptions,
  readCorpusDirectory,
  readCorpusFile,
  streamFileChunks,
} from './corpus-files.js';
export { type DataSource, type ResolveDataSourceOptions, resolveDataSource } from './data-source.js';
export {
  brownTaggedToText,
  DATASET_NAMES,
  type DatasetName,
  type LoadDatasetOptions,
  loadDataset,
} from './datasets.js';
export { globToRegExp } from './glob.js';
export { decodePng, encodePng, type ReadImageOptions, readImageFile, writePngFile } from './image-file.js';
