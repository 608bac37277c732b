export { GlobalModel, type PatchLevelInit } from './global-model.js';
export { PatchEmbedder, type PatchEmbedderOptions } from './patch-embedder.js';
export {
  conditionOnParent,
  convHistory,
  embedBytes,
  embedPatches,
  type PatchLevelSpec,
  patchLevel,
  patchStep,
  shiftPatches,
} from './patch-level.js';
