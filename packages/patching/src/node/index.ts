export { writeFileAtomic } from './atomic-write.js';
export {
  type AudioDataset,
  DEFAULT_AUDIO_SAMPLE_RATE,
  type LoadAudioDatasetOptions,
  loadAudioDataset,
} from './audio-dataset.js';
export {
  listCorpusFiles,
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
export {
  DEFAULT_IMAGE_LAYOUT,
  IMAGE_DATASET_NAMES,
  IMAGE_DATASETS,
  type ImageDataset,
  type ImageDatasetName,
  type LoadImageDatasetOptions,
  loadImageDataset,
} from './image-dataset.js';
export { decodePng, encodePng, type ReadImageOptions, readImageFile, writePngFile } from './image-file.js';
export {
  describeMediaCorpora,
  loadMediaCorpora,
  type MediaCorpora,
  type MediaCorporaOptions,
} from './media-corpora.js';
export type { MediaDataset, MediaSplitOptions, SkippedFile } from './media-split.js';
