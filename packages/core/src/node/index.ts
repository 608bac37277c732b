export type { CheckpointFiles, LoadedCheckpointDirectory } from './checkpoint-files.js';
export {
  readCheckpointDirectory,
  removeCheckpointLeftovers,
  writeCheckpointDirectory,
} from './checkpoint-files.js';
export { loadModel, saveModel } from './model-files.js';
export { defaultCacheDirectory, directoryLister, readModelFilesNode } from './model-source.js';
