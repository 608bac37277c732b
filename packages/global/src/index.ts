export {
  conditionOnParent,
  convHistory,
  embedBytes,
  embedPatches,
  type PatchLevelInit,
  type PatchLevelSpec,
  patchLevel,
  patchLevelParameters,
  patchStep,
  shiftPatches,
} from './patch-level.js';
